//! The importer scope: one reference, one end, within a decode.

use std::collections::HashMap;

use serde::Deserialize;

use super::{with_importer, ChannelRef, Importer};
use crate::error::NestError;
use crate::transport::IncomingEnd;
use crate::{pipe, Receiver, Sender};

/// Hands each end out once, as a session does.
struct Once(HashMap<u64, IncomingEnd>, usize);

impl Importer for Once {
    fn import(&mut self, r: ChannelRef) -> Result<IncomingEnd, NestError> {
        self.1 += 1;
        self.0.remove(&r.id).ok_or(NestError::UnknownReference {
            kind: r.kind.as_str(),
            id: r.id,
        })
    }
}

#[test]
fn a_receiver_named_twice_while_its_first_handle_lives_is_refused() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Twice {
        a: Receiver<u32>,
        b: Receiver<u32>,
    }
    let (_tx, rx) = pipe::<u32>();
    let ends = HashMap::from([(1, IncomingEnd::Local(Box::new(rx)))]);
    let json = r#"{"a":{"kind":"receiver","id":1},"b":{"kind":"receiver","id":1}}"#;
    let (result, importer) = with_importer(Once(ends, 0), || {
        serde_json::from_str::<Twice>(json).map(|_| ())
    });
    assert!(result.is_err(), "one reference, one receiver");
    assert_eq!(importer.1, 1, "the importer was asked once");
}

#[test]
fn a_sender_named_twice_gives_clones_of_one_sender() {
    #[derive(Deserialize)]
    struct Twice {
        a: Sender<u32>,
        b: Sender<u32>,
    }
    let (tx, mut rx) = pipe::<u32>();
    let ends = HashMap::from([(1, IncomingEnd::Local(Box::new(tx)))]);
    let json = r#"{"a":{"kind":"sender","id":1},"b":{"kind":"sender","id":1}}"#;
    let (result, importer) = with_importer(Once(ends, 0), || serde_json::from_str::<Twice>(json));
    let twice = result.expect("decodes");
    assert_eq!(importer.1, 1);
    assert!(twice.a.same_channel(&twice.b));
    twice.a.try_send(1).expect("live");
    drop(twice);
    assert_eq!(rx.try_recv().expect("queued"), 1);
    assert!(
        matches!(rx.try_recv(), Err(crate::TryRecvError::Closed)),
        "no clone outlives the decode"
    );
}

#[test]
fn a_receiver_dropped_by_a_failed_variant_is_handed_out_again() {
    #[derive(Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        First { rx: Receiver<u32>, number: u32 },
        Second { rx: Receiver<u32>, text: String },
    }
    let (tx, rx) = pipe::<u32>();
    let ends = HashMap::from([(1, IncomingEnd::Local(Box::new(rx)))]);
    let json = r#"{"rx":{"kind":"receiver","id":1},"text":"x"}"#;
    let (result, _) = with_importer(Once(ends, 0), || serde_json::from_str::<Either>(json));
    let Ok(Either::Second { mut rx, .. }) = result else {
        panic!("decodes as the second variant");
    };
    assert!(
        !tx.is_closed(),
        "the failed variant's drop did not close it"
    );
    tx.try_send(3).expect("live");
    assert_eq!(rx.try_recv().expect("queued"), 3);

    // A receiver that no variant kept is dropped when the decode ends.
    let (tx, rx) = pipe::<u32>();
    let ends = HashMap::from([(1, IncomingEnd::Local(Box::new(rx)))]);
    let json = r#"{"rx":{"kind":"receiver","id":1}}"#;
    let (result, _) = with_importer(Once(ends, 0), || serde_json::from_str::<Either>(json));
    assert!(result.is_err());
    assert!(tx.is_closed(), "given up at the end of the decode");
}
