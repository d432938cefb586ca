//! A session's backend I/O: the lazy load, the commit's plan and its
//! application, and the writes that go straight through after the commit.

mod commit;
mod load;
pub(crate) mod plan;
mod write_through;
