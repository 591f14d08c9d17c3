//! Arbitrary bytes through the xml codec's decoder, as a plain struct, a
//! `Message` and a struct of channel ends; whatever decodes must re-encode,
//! decode again and come back the same (see `codec_round_trip.rs`).

#![no_main]

mod codec_round_trip;

use libchan_codec_xml::Xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: codec_round_trip::write_seeds(&Xml), |data: &[u8]| {
    codec_round_trip::check(&Xml, data);
});
