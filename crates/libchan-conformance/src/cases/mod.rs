//! The transport cases. Each takes a [`Harness`] and panics
//! with a message naming the broken promise.

mod basic;
mod nesting;
mod scale;

pub use basic::{
    closing_the_session_ends_accept, dropped_receiver_fails_the_sender,
    dropping_the_last_sender_closes_cleanly, lost_session_breaks_every_channel,
    messages_keep_their_order_per_channel, top_level_channels_from_either_side,
};
pub use nesting::{
    byte_stream_in_a_message_is_duplex, end_sent_back_reaches_its_owner_directly,
    nested_ends_at_depth_travel_both_ways, reply_channels_answer_requests,
    seed_message_request_response,
};
pub use scale::{
    queued_messages_outlive_the_last_sender, slow_receiver_makes_the_sender_wait,
    thousand_concurrent_channels,
};

use crate::Harness;

/// Runs every case in turn against `harness`.
pub async fn run_all<H: Harness>(harness: &H) {
    top_level_channels_from_either_side(harness).await;
    messages_keep_their_order_per_channel(harness).await;
    dropping_the_last_sender_closes_cleanly(harness).await;
    closing_the_session_ends_accept(harness).await;
    lost_session_breaks_every_channel(harness).await;
    dropped_receiver_fails_the_sender(harness).await;
    nested_ends_at_depth_travel_both_ways(harness).await;
    reply_channels_answer_requests(harness).await;
    seed_message_request_response(harness).await;
    byte_stream_in_a_message_is_duplex(harness).await;
    end_sent_back_reaches_its_owner_directly(harness).await;
    thousand_concurrent_channels(harness).await;
    slow_receiver_makes_the_sender_wait(harness).await;
    queued_messages_outlive_the_last_sender(harness).await;
}
