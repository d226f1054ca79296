//! Group OSCORE (draft-ietf-core-oscore-groupcomm-08).
#![no_std]
