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

    /// The index's members, read and parsed, with the keys of their
    /// records. A member that does not parse is dropped from the set.
    async fn members(&self, index: &str) -> Result<Vec<Member>, BackendError> {
        let raw: Vec<String> = self
            .timed(|mut conn| async move {
                redis::cmd("ZRANGE")
                    .arg(index)
                    .arg(0)
                    .arg(-1)
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
    /// dropped (a second, pipelined, on the same node).
    pub(crate) async fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<OwnedRecord>, BackendError> {
        let index = self.index_key(owner);
        let members = self.members(&index).await?;
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
        let mut live = Vec::new();
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
            let (index, dead) = (&index, &dead);
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
        Ok(live)
    }

    /// Deletes the records of `owner` but those in `except`, and their
    /// entries, in one script on the index's node: nothing can join the
    /// index between the read and the deletes. Answers how many records
    /// were live.
    pub(crate) async fn end_owned(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        let index = self.index_key(owner);
        let (index, prefix) = (&index, self.key_prefix());
        let stream = self.script_stream();
        let (stream, retention) = (&stream, self.retention());
        let (ended, unpublished): (u64, Vec<String>) = self
            .timed(|mut conn| async move {
                let mut invocation = END.prepare_invoke();
                invocation.key(index).arg(prefix);
                match stream {
                    Some(stream) => invocation.key(stream).arg(retention),
                    None => invocation.arg(0),
                };
                for id in except {
                    invocation.arg(id.to_string());
                }
                let mut reply: Vec<String> = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_error)?;
                let ended = reply.first().and_then(|n| n.parse().ok());
                let ended =
                    ended.ok_or_else(|| BackendError::from_kind(BackendErrorKind::Corrupt))?;
                reply.remove(0);
                Ok((ended, reply))
            })
            .await?;
        // On a cluster, the script could not reach the stream.
        let ended_ids: Vec<SessionId> = unpublished
            .iter()
            .filter_map(|hex| hex.parse().ok())
            .collect();
        self.publish(&ended_ids).await?;
        Ok(ended)
    }
}

/// Ends an owner's sessions. `KEYS[1]` is the index and `KEYS[2]`, if
/// `ARGV[2]` (the seconds it keeps) is not 0, the revocation stream;
/// `ARGV[1]` is the records' key prefix, before the hash tag; the rest of
/// `ARGV` the ids kept. Each other member's record is deleted (its key
/// rebuilt from the id as `RedisBackend::key` builds it: the first two
/// bytes as the tag, the rest in hex) and its id appended to the stream,
/// and the member removed, a member that does not parse included. Answers
/// how many records were deleted, then, with no stream (on a cluster,
/// where the caller appends them), their ids.
const END_SOURCE: &str = r"
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local retention = tonumber(ARGV[2])
local minid = string.format('%d', (redis.call('TIME')[1] - retention) * 1000)
local ended, dropped, unpublished = 0, {}, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = string.match(member, '^(%x+):[pt]:%d+$')
  if id == nil or not keep[id] then
    if id ~= nil and #id == 32 then
      local tag = ''
      for i = 1, 4 do tag = tag .. string.char(0x40 + tonumber(string.sub(id, i, i), 16)) end
      local deleted = redis.call('DEL', ARGV[1] .. '{' .. tag .. '}' .. string.sub(id, 5))
      ended = ended + deleted
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
local reply = { tostring(ended) }
for _, id in ipairs(unpublished) do reply[#reply + 1] = id end
return reply
";

static END: LazyLock<Script> = LazyLock::new(|| Script::new(END_SOURCE));

/// An index member, as read.
struct Member {
    member: String,
    parsed: Option<(SessionId, bool, u64)>,
    /// The record's key, if the member parsed.
    key: Option<String>,
}
