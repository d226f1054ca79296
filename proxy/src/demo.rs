//! The resources of `oscore-proxy server`: `/hello`, `/echo`, `/large` and
//! the observable counter `/observe`.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use coap_lite::{CoapOption, ContentFormat, MessageClass, Packet, RequestType, ResponseType};

use crate::server::{Application, uri_path};

/// The body of `/large`: the numbers 0 to 599, each as four digits followed
/// by a comma (3000 bytes).
pub fn large_body() -> Vec<u8> {
    (0..600).flat_map(|i| format!("{i:04},").into_bytes()).collect()
}

/// The demo resources.
#[derive(Debug, Default)]
pub struct DemoApp {
    counter: AtomicU64,
}

impl DemoApp {
    /// A fresh set of resources (the counter starts at 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Advances the `/observe` counter; the caller then notifies observers.
    pub fn tick(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }
}

fn reply(code: ResponseType, payload: &[u8], text: bool) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::Response(code);
    if text {
        p.set_content_format(ContentFormat::TextPlain);
    }
    p.payload = payload.to_vec();
    p
}

#[async_trait]
impl Application for DemoApp {
    async fn handle(&self, request: &Packet) -> Packet {
        let method = match request.header.code {
            MessageClass::Request(m) => m,
            _ => return reply(ResponseType::BadRequest, b"", false),
        };
        match (uri_path(request).as_str(), method) {
            ("hello", RequestType::Get) => reply(ResponseType::Content, b"Hello World!", true),
            ("echo", RequestType::Post) => {
                let mut p = reply(ResponseType::Changed, &request.payload, false);
                if let Some(cf) = request.get_first_option(CoapOption::ContentFormat) {
                    p.add_option(CoapOption::ContentFormat, cf.clone());
                }
                p
            }
            ("large", RequestType::Get) => reply(ResponseType::Content, &large_body(), true),
            ("observe", RequestType::Get | RequestType::Fetch) => reply(
                ResponseType::Content,
                self.counter.load(Ordering::Relaxed).to_string().as_bytes(),
                true,
            ),
            ("hello" | "echo" | "large" | "observe", _) => reply(ResponseType::MethodNotAllowed, b"", false),
            _ => reply(ResponseType::NotFound, b"", false),
        }
    }

    fn observable(&self, path: &str) -> bool {
        path == "observe"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn large_body_is_3000_bytes() {
        let b = super::large_body();
        assert_eq!(b.len(), 3000);
        assert!(b.starts_with(b"0000,0001,"));
        assert!(b.ends_with(b"0599,"));
    }
}
