//! The owner index on Redis: one sorted set per owner, in the hash slot
//! of the owner's sessions.

use std::sync::LazyLock;

use deadpool_redis::redis::{self, Script};
use gimlet_core::SessionId;
use gimlet_core::backend::{BackendError, BackendErrorKind, OwnedRecord, Owner};

use crate::RedisBackend;
use crate::connection::redis_error;
use crate::script::parse_member;

impl RedisBackend {
    /// The Redis key of an owner's index: the prefix, the owner's group as
    /// the hash tag (the group every id of its sessions is in, so the index
    /// shares their slot), then `owner:` and the owner in hex.
    pub(crate) fn index_key(&self, owner: &Owner) -> String {
        let mut key = self.tagged(owner.group(), 38);
        key.push_str("owner:");
        key.push_str(&owner.to_string());
        key
    }

    /// At most [`PAGE`] of the index's members from `start` on, read and
    /// parsed, with the keys of their records. A member that does not
    /// parse is dropped from the set.
    async fn members(&self, index: &str, start: usize) -> Result<Vec<Member>, BackendError> {
        let raw: Vec<String> = self
            .timed(|mut conn| async move {
                redis::cmd("ZRANGE")
                    .arg(index)
                    .arg(start)
                    .arg(start + PAGE - 1)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await?;
        Ok(raw
            .into_iter()
            .map(|member| {
                let parsed = parse_member(&member);
                if parsed.is_none() {
                    tracing::warn!("dropping an owner index entry that does not parse");
                }
                let key = parsed.map(|(id, _, _)| self.key(&id));
                Member {
                    member,
                    parsed,
                    key,
                }
            })
            .collect())
    }

    /// The live records of `owner`, with their expiry: the index's members
    /// (one round trip), then each record's time to live, dead entries
    /// dropped (a second, pipelined, on the same node); by pages of
    /// [`PAGE`] members, so that no command walks a whole large index.
    pub(crate) async fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<OwnedRecord>, BackendError> {
        let index = self.index_key(owner);
        let mut live = Vec::new();
        let mut start = 0;
        loop {
            let members = self.members(&index, start).await?;
            let full = members.len() == PAGE;
            let dropped = self.owned_page(&index, &members, now, &mut live).await?;
            if !full {
                return Ok(live);
            }
            // The dead were removed from the set: the next page starts
            // that much sooner.
            start += PAGE - dropped;
        }
    }

    /// One page of [`RedisBackend::owned`]: its live records into `live`;
    /// answers how many entries it dropped.
    async fn owned_page(
        &self,
        index: &str,
        members: &[Member],
        now: u64,
        live: &mut Vec<OwnedRecord>,
    ) -> Result<usize, BackendError> {
        let (parsed, mut dead): (Vec<&Member>, Vec<&Member>) =
            members.iter().partition(|m| m.key.is_some());
        let parsed = &parsed;
        let ttls: Vec<i64> = if parsed.is_empty() {
            Vec::new()
        } else {
            self.timed(|mut conn| async move {
                let mut pipe = redis::pipe();
                for key in parsed.iter().filter_map(|m| m.key.as_ref()) {
                    pipe.cmd("PTTL").arg(key);
                }
                pipe.query_async(&mut conn).await.map_err(redis_error)
            })
            .await?
        };
        for (m, ttl) in parsed.iter().zip(ttls) {
            // -2: no such key; -1: no expiry, never written by Gimlet.
            match (m.parsed, u64::try_from(ttl)) {
                (Some((id, permanent, created)), Ok(ms)) if ms > 0 => live.push(OwnedRecord {
                    id,
                    permanent,
                    created,
                    expires_at: now + ms.div_ceil(1000),
                }),
                _ => dead.push(m),
            }
        }
        if !dead.is_empty() {
            let dead = &dead;
            self.timed(|mut conn| async move {
                let members: Vec<&str> = dead.iter().map(|m| m.member.as_str()).collect();
                redis::cmd("ZREM")
                    .arg(index)
                    .arg(members)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await?;
        }
        Ok(dead.len())
    }

    /// Deletes the records of `owner` but those in `except`, and their
    /// entries, by a script on the index's node that ends up to [`PAGE`]
    /// members a run, run until the index holds no more: nothing can join
    /// the index between a run's read and its deletes, and a login that
    /// joins between two runs is ended by the next. Answers how many
    /// records were live.
    pub(crate) async fn end_owned(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        let index = self.index_key(owner);
        let (index, prefix) = (&index, self.key_prefix());
        let stream = self.script_stream();
        let (stream, retention) = (&stream, self.retention());
        let changes = self.changes_channel();
        let mut total = 0;
        loop {
            let mut reply: Vec<String> = self
                .timed(|mut conn| async move {
                    let mut invocation = END.prepare_invoke();
                    invocation.key(index).arg(prefix);
                    match stream {
                        Some(stream) => invocation.key(stream).arg(retention),
                        None => invocation.arg(0),
                    };
                    invocation.arg(PAGE).arg(changes);
                    for id in except {
                        invocation.arg(id.to_string());
                    }
                    invocation
                        .invoke_async(&mut conn)
                        .await
                        .map_err(redis_error)
                })
                .await?;
            let corrupt = || BackendError::from_kind(BackendErrorKind::Corrupt);
            let [ended, more] = [0, 1].map(|i| reply.get(i).and_then(|n| n.parse::<u64>().ok()));
            let (ended, more) = (ended.ok_or_else(corrupt)?, more.ok_or_else(corrupt)?);
            total += ended;
            // On a cluster, the script could not reach the stream.
            let unpublished: Vec<SessionId> = reply
                .drain(..)
                .skip(2)
                .filter_map(|hex| hex.parse().ok())
                .collect();
            self.publish(&unpublished).await?;
            if more == 0 {
                return Ok(total);
            }
        }
    }
}

/// Ends up to `ARGV[3]` of an owner's sessions. `KEYS[1]` is the index
/// and `KEYS[2]`, if `ARGV[2]` (the seconds it keeps) is not 0, the
/// revocation stream; `ARGV[1]` is the records' key prefix, before the hash
/// tag; `ARGV[4]` the channel of changes; the rest of `ARGV` the ids kept.
/// Each other member of the first ones read has its record deleted (its
/// key rebuilt from the id as `RedisBackend::key` builds it: the first two
/// bytes as the tag, the rest in hex), its id appended to the stream and
/// its key published on the channel, and is removed, a member that does
/// not parse included. Answers how many records were deleted,
/// whether members may be left (`1`), then, with no stream (on a cluster,
/// where the caller appends them), the ids ended.
const END_SOURCE: &str = r"
local keep, kept = {}, 0
for i = 5, #ARGV do keep[ARGV[i]] = true; kept = kept + 1 end
local retention = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local minid = string.format('%d', (redis.call('TIME')[1] - retention) * 1000)
local ended, dropped, unpublished, changed = 0, {}, {}, {}
local members = redis.call('ZRANGE', KEYS[1], 0, limit + kept - 1)
for _, member in ipairs(members) do
  local id = string.match(member, '^(%x+):[pt]:%d+$')
  if id == nil or not keep[id] then
    if id ~= nil and #id == 32 then
      local tag = ''
      for i = 1, 4 do tag = tag .. string.char(0x40 + tonumber(string.sub(id, i, i), 16)) end
      local key = ARGV[1] .. '{' .. tag .. '}' .. string.sub(id, 5)
      local deleted = redis.call('DEL', key)
      ended = ended + deleted
      if deleted == 1 then changed[#changed + 1] = key end
      if deleted == 1 and retention > 0 then
        redis.call('XADD', KEYS[2], 'MINID', '~', minid, '*', 'id', id)
      elseif deleted == 1 then
        unpublished[#unpublished + 1] = id
      end
    end
    dropped[#dropped + 1] = member
  end
end
for i = 1, #dropped, 1000 do
  redis.call('ZREM', KEYS[1], unpack(dropped, i, math.min(i + 999, #dropped)))
end
if #changed > 0 then redis.call('PUBLISH', ARGV[4], table.concat(changed, ',')) end
local more = 0
if #members == limit + kept and #dropped > 0 then more = 1 end
local reply = { tostring(ended), tostring(more) }
for _, id in ipairs(unpublished) do reply[#reply + 1] = id end
return reply
";

static END: LazyLock<Script> = LazyLock::new(|| Script::new(END_SOURCE));

/// The most index members one command reads or one run of the ending
/// script ends.
const PAGE: usize = 1000;

/// An index member, as read.
struct Member {
    member: String,
    parsed: Option<(SessionId, bool, u64)>,
    /// The record's key, if the member parsed.
    key: Option<String>,
}
