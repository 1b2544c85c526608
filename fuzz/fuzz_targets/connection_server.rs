//! Arbitrary bytes into a server connection: see
//! `wsproto_fuzz::drive_connection` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::Role;

fuzz_target!(|data: &[u8]| wsproto_fuzz::drive_connection(Role::Server, data));
