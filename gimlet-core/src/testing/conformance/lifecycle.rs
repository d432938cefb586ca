//! The randomized lifecycle: seeded random sequences of logins, cycles,
//! logouts, log out everywhere, clears, reads and writes, some of them
//! concurrent, from several copies of one browser's cookies, checked
//! against one rule: nothing ended is visible after the ending's response.
//!
//! A sequence is a few steps; the requests of one step run at once, so the
//! test knows only that each ended before the next step began. It checks
//! what that makes certain, on the ids the cookies carry:
//! - an id that a response replaced or removed (a logout, a cycle, a
//!   login, a heal) yields nothing, clientside data included, in every
//!   later step, to every copy;
//! - after `end_sessions_of`, an owned id issued before its step, or by a
//!   cycle of an owned id in its step, yields no server data in every
//!   later step (clientside data waits for the feed or the window).
//!
//! The count and the seed come from [`SEQUENCES_VAR`] and [`SEED_VAR`];
//! both are printed, and a failure names the seed that replays it alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::suite::{Browser, SharedBackend, gimlet};
use crate::{Gimlet, SessionId};

/// How many sequences to run (default: 2,000 on the memory store, 300 on
/// a server).
pub const SEQUENCES_VAR: &str = "GIMLET_LIFECYCLE_SEQUENCES";

/// The seed of the first sequence; sequence `n` uses the seed plus `n`
/// (default: a random seed).
pub const SEED_VAR: &str = "GIMLET_LIFECYCLE_SEED";

/// Copies of the browser's cookies.
const JARS: usize = 3;

/// Steps per sequence.
const STEPS: usize = 10;

/// Random ids and lifecycles never show an ended session.
pub async fn random_lifecycles_never_show_an_ended_session(backend: SharedBackend) {
    let default = if backend.name() == "memory" {
        2_000
    } else {
        300
    };
    let count = std::env::var(SEQUENCES_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    let seed = std::env::var(SEED_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            u64::from_le_bytes(
                SessionId::generate().expect("rng").as_bytes()[..8]
                    .try_into()
                    .unwrap_or_default(),
            )
        });
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "lifecycle on {}: {count} sequences from {SEED_VAR}={seed}",
            backend.name()
        );
    }
    // A long window: only what the endings themselves do may stop a copy.
    let index = backend.owner_index();
    let gimlet = gimlet(backend, 3600);
    for n in 0..count {
        let seed = seed.wrapping_add(n);
        if let Err(broken) = Sequence::new(seed, index).run(&gimlet).await {
            panic!(
                "sequence {n} broke the rule: {broken}\n\
                 replay it alone with {SEED_VAR}={seed} {SEQUENCES_VAR}=1"
            );
        }
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `login` (`set_owner` with an owner index, `cycle_id` without),
    /// then a new clientside user id and server data.
    Login,
    CycleId,
    /// Reads the user id, and writes it to the server data.
    Write,
    Read,
    Clear,
    Logout,
    /// `end_sessions_of` the owner: no cookie.
    LogOutEverywhere,
}

const ACTIONS: [(Action, u64); 7] = [
    (Action::Login, 2),
    (Action::CycleId, 3),
    (Action::Write, 2),
    (Action::Read, 4),
    (Action::Clear, 1),
    (Action::Logout, 1),
    (Action::LogOutEverywhere, 1),
];

/// How an id ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ended {
    /// By `end_sessions_of`: no server data.
    ServerData,
    /// Replaced or removed by a response: nothing at all.
    Everything,
}

/// What one request saw and left.
struct Outcome {
    jar: Option<usize>,
    action: Action,
    sent: BTreeSet<SessionId>,
    jar_after: Browser,
    /// The user id and the server data, where the request read them.
    seen: Option<(Option<u32>, Option<u32>)>,
}

struct Sequence {
    index: bool,
    rng: SplitMix,
    owner: String,
    jars: [Browser; JARS],
    /// Owned ids, with the step that issued them.
    owned: BTreeMap<SessionId, usize>,
    ended: BTreeMap<SessionId, Ended>,
    next_user: u32,
    log: String,
}

impl Sequence {
    /// `index`: the store keeps an owner index (else no step logs out
    /// everywhere, and a login only cycles the ids).
    fn new(seed: u64, index: bool) -> Self {
        Sequence {
            index,
            rng: SplitMix(seed),
            owner: format!("user-{}", SessionId::generate().expect("rng")),
            jars: Default::default(),
            owned: BTreeMap::new(),
            ended: BTreeMap::new(),
            next_user: 1,
            log: String::new(),
        }
    }

    async fn run(mut self, gimlet: &Gimlet) -> Result<(), String> {
        // Logged in on one copy, then copied to the others.
        let login = self.request(gimlet, 0, Action::Login, 0).await?;
        self.absorb(0, vec![login])?;
        let logged_in = self.jars[0].clone();
        self.jars.fill(logged_in);
        for step in 1..=STEPS {
            if self.rng.below(4) == 0 {
                let (from, to) = (self.rng.below(JARS), self.rng.below(JARS));
                let _ = write!(self.log, "[{step}] copy {from} -> {to}; ");
                self.jars[to] = self.jars[from].clone();
            }
            let mut requests = Vec::new();
            let mut busy = BTreeSet::new();
            for _ in 0..=self.rng.below(3) {
                let action = loop {
                    let action = self.rng.pick();
                    if self.index || action != Action::LogOutEverywhere {
                        break action;
                    }
                };
                let jar = self.rng.below(JARS);
                if action != Action::LogOutEverywhere && !busy.insert(jar) {
                    continue;
                }
                requests.push((jar, action));
            }
            let tasks: Vec<_> = requests
                .iter()
                .map(|&(jar, action)| {
                    let (gimlet, this) = (gimlet.clone(), self.one(jar, action));
                    tokio::spawn(async move { this.send(&gimlet, step).await })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(
                    task.await
                        .map_err(|e| format!("a request panicked: {e}"))??,
                );
            }
            self.absorb(step, outcomes)?;
        }
        Ok(())
    }

    async fn request(
        &mut self,
        gimlet: &Gimlet,
        jar: usize,
        action: Action,
        step: usize,
    ) -> Result<Outcome, String> {
        self.one(jar, action).send(gimlet, step).await
    }

    /// A request of `action` from copy `jar`, ready to send.
    fn one(&mut self, jar: usize, action: Action) -> Request {
        let user = self.next_user;
        if action == Action::Login {
            self.next_user += 1;
        }
        Request {
            jar: (action != Action::LogOutEverywhere).then_some(jar),
            action,
            browser: self.jars[jar].clone(),
            owner: self.owner.clone(),
            user,
        }
    }

    /// Checks what a step's requests saw against what ended in earlier
    /// steps, then records what this step ended.
    fn absorb(&mut self, step: usize, outcomes: Vec<Outcome>) -> Result<(), String> {
        for outcome in &outcomes {
            let _ = write!(
                self.log,
                "[{step}] {:?} from {:?} with {} saw {:?}; ",
                outcome.action,
                outcome.jar,
                names(&outcome.sent),
                outcome.seen
            );
        }
        for outcome in &outcomes {
            let Some((user, data)) = outcome.seen else {
                continue;
            };
            for id in &outcome.sent {
                let broken = match self.ended.get(id) {
                    Some(Ended::Everything) => user.is_some() || data.is_some(),
                    Some(Ended::ServerData) => data.is_some(),
                    None => false,
                };
                if broken {
                    return Err(format!(
                        "{} ended as {:?} yet a later {:?} saw user {user:?}, data {data:?}\n{}",
                        name(id),
                        self.ended[id],
                        outcome.action,
                        self.log
                    ));
                }
            }
        }
        let mut newly = Vec::new();
        for outcome in &outcomes {
            if outcome.action == Action::LogOutEverywhere {
                // Owned before this step, or moved by a cycle in it.
                for (id, &issued) in &self.owned {
                    if issued < step {
                        newly.push((*id, Ended::ServerData));
                    }
                }
                for other in &outcomes {
                    if other.action == Action::CycleId
                        && other.sent.iter().any(|id| self.owned.contains_key(id))
                    {
                        let after = jar_ids(&other.jar_after);
                        newly.extend(
                            after
                                .difference(&other.sent)
                                .map(|&id| (id, Ended::ServerData)),
                        );
                    }
                }
            }
        }
        for outcome in outcomes {
            let Some(jar) = outcome.jar else { continue };
            let after = jar_ids(&outcome.jar_after);
            for &gone in outcome.sent.difference(&after) {
                newly.push((gone, Ended::Everything));
            }
            // A login's ids join the owner, and a cycle's carry its owner
            // on; a heal's fresh ids belong to no one.
            let owned = outcome.action == Action::Login
                || (outcome.action == Action::CycleId
                    && outcome.sent.iter().any(|id| self.owned.contains_key(id)));
            for &issued in after.difference(&outcome.sent) {
                if owned {
                    self.owned.entry(issued).or_insert(step);
                }
            }
            self.jars[jar] = outcome.jar_after;
        }
        for (id, how) in newly {
            let was = self.ended.entry(id).or_insert(how);
            *was = (*was).max(how);
        }
        Ok(())
    }
}

/// One request, as it leaves its copy of the cookies.
struct Request {
    jar: Option<usize>,
    action: Action,
    browser: Browser,
    owner: String,
    user: u32,
}

impl Request {
    async fn send(mut self, gimlet: &Gimlet, step: usize) -> Result<Outcome, String> {
        let sent = jar_ids(&self.browser);
        let failed = |what: &str, e: crate::Error| format!("step {step}: {what} failed: {e}");
        if self.action == Action::LogOutEverywhere {
            gimlet
                .end_sessions_of(&self.owner, None)
                .await
                .map_err(|e| failed("end_sessions_of", e))?;
            return Ok(Outcome {
                jar: None,
                action: self.action,
                sent: BTreeSet::new(),
                jar_after: self.browser,
                seen: None,
            });
        }
        let header = self.browser.header();
        let s = gimlet.open_from_headers([header.as_str()]);
        let seen = match self.action {
            Action::Login => {
                s.login(&self.owner).await.map_err(|e| failed("login", e))?;
                s.insert("user_id", &self.user)
                    .await
                    .map_err(|e| failed("insert", e))?;
                s.insert("data", &self.user)
                    .await
                    .map_err(|e| failed("insert", e))?;
                None
            }
            Action::CycleId => {
                s.cycle_id().await.map_err(|e| failed("cycle_id", e))?;
                None
            }
            Action::Write => {
                let user = s
                    .get::<u32>("user_id")
                    .await
                    .map_err(|e| failed("get", e))?;
                if let Some(user) = user {
                    s.insert("data", &user)
                        .await
                        .map_err(|e| failed("insert", e))?;
                }
                Some((user, None))
            }
            Action::Read => {
                let user = s
                    .get::<u32>("user_id")
                    .await
                    .map_err(|e| failed("get", e))?;
                let data = s.get::<u32>("data").await.map_err(|e| failed("get", e))?;
                Some((user, data))
            }
            Action::Clear => {
                s.clear().map_err(|e| failed("clear", e))?;
                None
            }
            Action::Logout => {
                s.invalidate().map_err(|e| failed("invalidate", e))?;
                None
            }
            Action::LogOutEverywhere => unreachable!("answered above"),
        };
        let set_cookies = gimlet.commit(&s).await.map_err(|e| failed("commit", e))?;
        self.browser.take(&set_cookies);
        Ok(Outcome {
            jar: self.jar,
            action: self.action,
            sent,
            jar_after: self.browser,
            seen,
        })
    }
}

/// The ids a copy's cookies carry.
fn jar_ids(browser: &Browser) -> BTreeSet<SessionId> {
    browser.ids().into_iter().collect()
}

fn name(id: &SessionId) -> String {
    id.to_string()[..8].to_owned()
}

fn names(ids: &BTreeSet<SessionId>) -> String {
    let names: Vec<String> = ids.iter().map(name).collect();
    format!("[{}]", names.join(", "))
}

/// SplitMix64: a small, seedable generator, so that a seed replays.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// An action, by the weights of [`ACTIONS`].
    fn pick(&mut self) -> Action {
        let total: u64 = ACTIONS.iter().map(|(_, w)| w).sum();
        let mut roll = self.next() % total;
        for (action, weight) in ACTIONS {
            if roll < weight {
                return action;
            }
            roll -= weight;
        }
        Action::Read
    }
}
