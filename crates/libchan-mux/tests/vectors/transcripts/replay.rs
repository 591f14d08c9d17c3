//! Replaying a transcript, one side at a time, against the recorded other
//! side: how the file is checked, and how a port uses it.

use super::*;

/// Plays `side` of `transcript` against the recorded other side.
fn replay_side(transcript: &Value, side: Role) {
    let name = str_field(transcript, "name");
    let now = Instant::now();
    let config = match side {
        Role::Dialer => config_from_json(&transcript["dialer_config"]),
        Role::Acceptor => config_from_json(&transcript["acceptor_config"]),
    };
    let mut s = Connection::new(side, config, now).expect("valid config");
    let steps = transcript["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{name} step {i} ({} side)", role_name(side));
        let bytes = unhex(str_field(step, "hex"));
        assert_eq!(&Value::Array(frames_of(&bytes)), &step["frames"], "{at}");
        let from = role_from_name(str_field(step, "from"));
        let forged = step["forged"].as_bool().expect("forged");
        if from == side {
            if forged {
                // A forging peer writes its own bytes instead of the queue.
                let _ = take_transmit(&mut s);
                continue;
            }
            for call in step["actions"].as_array().expect("actions") {
                let action = Action::from_json(call);
                assert_eq!(
                    &action.perform(&mut s, now),
                    &call["result"],
                    "{at}: {call}"
                );
                assert_eq!(
                    &Value::Array(drain_events(&mut s)),
                    &call["events"],
                    "{at}: {call}"
                );
            }
            assert_eq!(hex(&take_transmit(&mut s)), hex(&bytes), "{at}: bytes");
        } else {
            let result = s.handle_input(now, &bytes);
            let events = drain_events(&mut s);
            assert_eq!(&Value::Array(events.clone()), &step["events"], "{at}");
            let failed = events.iter().find(|e| e["type"] == "Failed");
            match result {
                Ok(()) => assert!(failed.is_none(), "{at}: Failed without an error"),
                Err(e) => assert_eq!(failed, Some(&failed_json(&e)), "{at}"),
            }
        }
    }
    assert!(
        s.poll_event().is_none(),
        "{name}: events after the last step"
    );
    assert_eq!(s.transmit_len(), 0, "{name}: bytes after the last step");
}

pub(crate) fn check_transcripts(v: &Value) {
    let valid = v["transcripts"].as_array().expect("transcripts");
    let invalid = v["invalid"].as_array().expect("invalid transcripts");
    for t in valid.iter().chain(invalid) {
        for side in [Role::Dialer, Role::Acceptor] {
            replay_side(t, side);
        }
    }
    for t in valid {
        let name = str_field(t, "name");
        for step in t["steps"].as_array().expect("steps") {
            assert_eq!(
                step["forged"], false,
                "{name}: a valid transcript forges nothing"
            );
            for e in step["events"].as_array().expect("events") {
                assert_ne!(
                    e["type"], "Failed",
                    "{name}: a valid transcript fails nowhere"
                );
            }
        }
    }
    for t in invalid {
        let name = str_field(t, "name");
        let receiver = str_field(t, "receiver");
        let steps = t["steps"].as_array().expect("steps");
        let forged = steps
            .iter()
            .position(|s| s["forged"] == true)
            .unwrap_or_else(|| panic!("{name}: no forged step"));
        assert_ne!(str_field(&steps[forged], "from"), receiver, "{name}");
        let failure = steps[forged]["events"]
            .as_array()
            .and_then(|e| e.last())
            .unwrap_or_else(|| panic!("{name}: the forged step has no events"));
        assert_eq!(failure["type"], "Failed", "{name}");
        for key in ["error", "message"] {
            assert_eq!(failure[key], t[key], "{name}: {key}");
        }
        assert_eq!(failure["code_name"], t["code"], "{name}: code");
        assert_eq!(failure.get("violation"), t.get("violation"), "{name}");
        // The receiver's next step is its GOAWAY with that code.
        let goaway = steps[forged + 1..]
            .iter()
            .find(|s| s["from"] == receiver)
            .and_then(|s| s["frames"].as_array()?.last().cloned())
            .unwrap_or_else(|| panic!("{name}: no GOAWAY from the receiver"));
        assert_eq!(goaway["type"], "GOAWAY", "{name}");
        assert_eq!(goaway["code_name"], t["code"], "{name}");
        assert_eq!(goaway["reason"], t["message"], "{name}");
    }
}

/// The hex of step `N` of transcript `NAME`, for `transcripts.NAME.N`.
pub(crate) fn transcript_step_hex(v: &Value, marker: &str) -> Option<String> {
    let (name, step) = marker.strip_prefix("transcripts.")?.rsplit_once('.')?;
    let step: usize = step.parse().ok()?;
    let valid = v["transcripts"].as_array()?;
    let invalid = v["invalid"].as_array()?;
    let transcript = valid.iter().chain(invalid).find(|t| t["name"] == name)?;
    Some(str_field(&transcript["steps"][step], "hex").to_owned())
}

/// The replay is a check of its own: a changed byte, event or result in a
/// transcript makes it fail on the side that sees it.
#[test]
fn replay_detects_a_changed_transcript() {
    let v = generate_transcripts();
    let original = v["transcripts"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "request_reply"))
        .expect("request_reply")
        .clone();
    for side in [Role::Dialer, Role::Acceptor] {
        replay_side(&original, side);
    }
    let mut changed_reply = original.clone();
    changed_reply["steps"][3]["events"][0]["payload_hex"] = json!(hex(b"\"bye\""));
    let mut changed_bytes = original.clone();
    let request_step = &mut changed_bytes["steps"][2];
    let tampered = str_field(request_step, "hex").replace("7d7d", "7d20");
    request_step["hex"] = json!(tampered);
    request_step["frames"] = Value::Array(frames_of(&unhex(&tampered)));
    let mut changed_result = original;
    changed_result["steps"][3]["actions"][0]["result"] = json!("opener_sends");
    for (what, t, side) in [
        ("an event", changed_reply, Role::Dialer),
        ("the requester's bytes", changed_bytes.clone(), Role::Dialer),
        (
            "the bytes the responder is fed",
            changed_bytes,
            Role::Acceptor,
        ),
        ("a call's result", changed_result, Role::Acceptor),
    ] {
        let replay = std::panic::catch_unwind(|| replay_side(&t, side));
        assert!(replay.is_err(), "changing {what} went unnoticed");
    }
}
