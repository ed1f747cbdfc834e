//! Where the cost data comes from: the query plan, a recording replayed through the SDK's
//! own deserializer, the bill's line items (a CUR 2.0 or FOCUS export), or Cost Explorer itself (the only layer that talks to AWS), and the
//! integrity checks every answer passes before it is cached or tabled.

pub mod athena;
pub mod aws;
pub mod integrity;
pub mod lines;
pub mod plan;
pub mod recording;
pub mod s3;
