//! Async CoAP endpoints over OSCORE (RFC 8613) and the Group OSCORE checking proxy.
