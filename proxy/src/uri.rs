//! `coap://` URIs of the command line (RFC 7252 §6.1, §6.4 decomposition).

/// A decomposed `coap://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUri {
    /// The host: a name, an IPv4 literal, or an IPv6 literal without brackets.
    pub host: String,
    /// The port (default 5683).
    pub port: u16,
    /// Uri-Path segments, percent-decoded.
    pub path: Vec<Vec<u8>>,
    /// Uri-Query arguments, percent-decoded.
    pub query: Vec<Vec<u8>>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid coap URI: {0}")]
pub struct UriError(pub &'static str);

fn percent_decode(s: &str) -> Result<Vec<u8>, UriError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(|c| char::from(c).to_digit(16));
            let lo = bytes.next().and_then(|c| char::from(c).to_digit(16));
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(u8::try_from(h * 16 + l).map_err(|_| UriError("percent"))?),
                _ => return Err(UriError("bad percent-encoding")),
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// Parses `coap://HOST[:PORT][/PATH][?QUERY]`.
///
/// # Errors
/// [`UriError`] for another scheme, a fragment, an empty host, a bad port or
/// bad percent-encoding.
// ref: RFC 7252 §6.4 (decomposing URIs into options)
pub fn parse(uri: &str) -> Result<CoapUri, UriError> {
    let rest = uri.strip_prefix("coap://").ok_or(UriError("scheme must be coap://"))?;
    if rest.contains('#') {
        return Err(UriError("fragment not allowed"));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(end);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UriError("unclosed IPv6 literal"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UriError("empty host"));
    }
    let port = match port {
        None | Some("") => 5683,
        Some(p) => p.parse().map_err(|_| UriError("bad port"))?,
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').map(percent_decode).collect::<Result<_, _>>()?
    };
    let query = match query {
        Some(q) if !q.is_empty() => q.split('&').map(percent_decode).collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(CoapUri { host: host.to_owned(), port, path, query })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let u = parse("coap://127.0.0.1:5684/a/b%20c?x=1&y").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 5684);
        assert_eq!(u.path, vec![b"a".to_vec(), b"b c".to_vec()]);
        assert_eq!(u.query, vec![b"x=1".to_vec(), b"y".to_vec()]);
        let u = parse("coap://[::1]/hello").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5683));
        assert!(parse("http://x/").is_err());
        assert!(parse("coap://:5/").is_err());
        assert!(parse("coap://h:99999/").is_err());
        assert!(parse("coap://h/%zz").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s);
            let _ = parse(&format!("coap://{s}"));
        }
    }
}
