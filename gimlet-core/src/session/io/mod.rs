//! A session's backend I/O: the lazy load (from the near cache when it
//! can), the commit's plan and its application, and the writes that go
//! straight through after the commit.

mod commit;
mod import;
mod load;
mod near;
pub(crate) mod plan;
mod write_through;
