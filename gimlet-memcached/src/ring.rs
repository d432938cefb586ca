//! The ring of servers: consistent hashing, as ketama does it, so that
//! adding a server moves about 1/N of the sessions. A session's ids share
//! their group ([`SessionId::group`](gimlet_core::SessionId::group)), and
//! the group alone picks the server, so all of a session's records live on
//! one server.

/// Points on the ring per server: enough that each server's share is
/// within a few percent of 1/N.
const POINTS_PER_SERVER: u32 = 160;

/// Which server holds each of the 65,536 groups, worked out once.
#[derive(Debug)]
pub(crate) struct Ring {
    by_group: Vec<u16>,
}

impl Ring {
    /// The ring of `servers` (their `host:port` names place them).
    pub(crate) fn new(servers: &[String]) -> Self {
        let mut points: Vec<(u64, u16)> = Vec::new();
        for (index, server) in servers.iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            for point in 0..POINTS_PER_SERVER {
                points.push((hash(format!("{server}#{point}").as_bytes()), index));
            }
        }
        points.sort_unstable();
        let by_group = (0..=u16::MAX)
            .map(|group| {
                let at = hash(&group.to_be_bytes());
                let next = points.partition_point(|&(point, _)| point < at);
                points.get(next).or(points.first()).map_or(0, |&(_, s)| s)
            })
            .collect();
        Ring { by_group }
    }

    /// The server of the group `group`.
    pub(crate) fn server(&self, group: [u8; 2]) -> usize {
        usize::from(self.by_group[usize::from(u16::from_be_bytes(group))])
    }
}

/// FNV-1a, then a 64-bit finalizer (splitmix64's) to spread close inputs
/// over the whole ring.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("10.0.0.{i}:11211")).collect()
    }

    fn groups() -> impl Iterator<Item = [u8; 2]> {
        (0..=u16::MAX).map(u16::to_be_bytes)
    }

    #[test]
    fn each_server_holds_about_its_share() {
        for n in [1, 2, 3, 5] {
            let ring = Ring::new(&names(n));
            let mut counts = vec![0usize; n];
            for group in groups() {
                counts[ring.server(group)] += 1;
            }
            let share = 65_536 / n;
            for count in counts {
                assert!(
                    count > share * 3 / 4 && count < share * 5 / 4,
                    "{n} servers: {count} of about {share}"
                );
            }
        }
    }

    #[test]
    fn adding_a_server_moves_about_one_nth_of_the_groups_and_only_to_it() {
        let three = Ring::new(&names(3));
        let four = Ring::new(&names(4));
        let moved: Vec<_> = groups()
            .filter(|&g| three.server(g) != four.server(g))
            .collect();
        assert!(
            moved.iter().all(|&g| four.server(g) == 3),
            "a group moved between old servers"
        );
        let fraction = moved.len() as f64 / 65_536.0;
        assert!((0.18..0.32).contains(&fraction), "{fraction}");
    }
}
