//! The commit script: a whole batch, checked then applied, in one EVALSHA.

use deadpool_redis::redis::Script;
use gimlet_core::SessionId;
use gimlet_core::backend::{Batch, Op, Owner, Ownership, WriteMode};

/// Applies a batch atomically. `KEYS` holds one hash per op, then the
/// owner indexes the ops name, then, if the batch deletes anything, the
/// revocation stream. `ARGV` starts with how many seconds of entries the
/// stream keeps (`0`: no stream) and the channel of changes, on which the
/// script publishes the keys of its ops, comma-separated, once applied
/// (for the app servers' near caches). Then it holds, per op, `mode clear
/// expires_ms nset nremove owner nexpect`, then `nset` field-value pairs,
/// then `nremove` fields, then `nexpect` triples `field present value`
/// (a field that must hold `value`, or be absent when `present` is `0`),
/// then, if `owner` (the index's position in `KEYS`) is not 0, the index
/// entry's score and member. Modes: `D` delete, `R`
/// retire (delete; must exist), `C` create (must not exist), `U` upsert,
/// `W` update (must exist). For `D` and `R` the second field is the id in
/// hex, which the script appends to the stream.
///
/// Every hash holds a sentinel field `""` (session keys are never empty),
/// so that a record whose keys were all removed still exists.
///
/// An owner index is a sorted set of `id:channel:created` members scored
/// by the latest time the record can live; adding to it drops the entries
/// past that time and sets the set to expire with its last entry.
const SOURCE: &str = r"
local ops = {}
local retention = tonumber(ARGV[1])
local stream = nil
if retention > 0 then stream = KEYS[#KEYS] end
local pos = 3
local nops = 0
while pos <= #ARGV do
  nops = nops + 1
  local nset = tonumber(ARGV[pos + 3])
  local nremove = tonumber(ARGV[pos + 4])
  local owner = tonumber(ARGV[pos + 5])
  local nexpect = tonumber(ARGV[pos + 6])
  ops[nops] = { mode = ARGV[pos], clear = ARGV[pos + 1], expires = ARGV[pos + 2],
                nset = nset, nremove = nremove, owner = owner, nexpect = nexpect,
                first = pos + 7 }
  pos = pos + 7 + 2 * nset + nremove + 3 * nexpect
  if owner > 0 then pos = pos + 2 end
end
for i = 1, nops do
  local op = ops[i]
  local mode = op.mode
  if mode == 'C' and redis.call('EXISTS', KEYS[i]) == 1 then return 'collision' end
  if (mode == 'W' or mode == 'R') and redis.call('EXISTS', KEYS[i]) == 0 then return 'gone' end
  -- Compare-and-set: each expected field still holds what the request read.
  local p = op.first + 2 * op.nset + op.nremove
  for _ = 1, op.nexpect do
    local current = redis.call('HGET', KEYS[i], ARGV[p])
    if ARGV[p + 1] == '1' then
      if current ~= ARGV[p + 2] then return 'changed' end
    elseif current then
      return 'changed'
    end
    p = p + 3
  end
end
for i = 1, nops do
  local op, key = ops[i], KEYS[i]
  if op.mode == 'D' or op.mode == 'R' then
    redis.call('DEL', key)
    if stream then
      local minid = string.format('%d', (redis.call('TIME')[1] - retention) * 1000)
      redis.call('XADD', stream, 'MINID', '~', minid, '*', 'id', op.clear)
    end
  else
    if op.clear == '1' then redis.call('DEL', key) end
    -- One HSET and one HDEL per hash, in chunks that stay within unpack's limit.
    local p = op.first
    local args = { key, '', '1' }
    for _ = 1, op.nset do
      args[#args + 1] = ARGV[p]
      args[#args + 1] = ARGV[p + 1]
      p = p + 2
      if #args >= 1001 then redis.call('HSET', unpack(args)); args = { key } end
    end
    if #args > 1 then redis.call('HSET', unpack(args)) end
    args = { key }
    for _ = 1, op.nremove do
      args[#args + 1] = ARGV[p]
      p = p + 1
      if #args >= 1001 then redis.call('HDEL', unpack(args)); args = { key } end
    end
    if #args > 1 then redis.call('HDEL', unpack(args)) end
    p = p + 3 * op.nexpect
    redis.call('PEXPIREAT', key, op.expires)
    if op.owner > 0 then
      local index = KEYS[op.owner]
      redis.call('ZADD', index, ARGV[p], ARGV[p + 1])
      redis.call('ZREMRANGEBYSCORE', index, '-inf', redis.call('TIME')[1])
      local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
      if last[2] then redis.call('EXPIREAT', index, last[2]) end
    end
  end
end
redis.call('PUBLISH', ARGV[2], table.concat(KEYS, ',', 1, nops))
return 'ok'
";

/// The field that marks a hash as a Gimlet record.
pub(crate) const SENTINEL: &[u8] = b"";

pub(crate) fn script() -> Script {
    Script::new(SOURCE)
}

/// What the script answered.
pub(crate) enum Outcome {
    Applied,
    Collision,
    Gone,
    Changed,
}

impl Outcome {
    pub(crate) fn parse(reply: &str) -> Option<Self> {
        match reply {
            "ok" => Some(Outcome::Applied),
            "collision" => Some(Outcome::Collision),
            "gone" => Some(Outcome::Gone),
            "changed" => Some(Outcome::Changed),
            _ => None,
        }
    }
}

/// The script's keys and arguments for `batch`: `key` names a record's
/// hash, `index` an owner's index.
pub(crate) fn arguments(
    batch: &Batch,
    key: impl Fn(&gimlet_core::SessionId) -> String,
    index: impl Fn(&Owner) -> String,
    stream: Option<(&str, u64)>,
    changes: &str,
) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut keys = Vec::with_capacity(batch.ops.len());
    let mut indexes = Vec::new();
    let deletes = batch.ended().next().is_some();
    let stream = stream.filter(|_| deletes);
    let retention = stream.map_or(0, |(_, seconds)| seconds.max(1));
    let mut args: Vec<Vec<u8>> = vec![
        retention.to_string().into_bytes(),
        changes.as_bytes().to_vec(),
    ];
    for op in &batch.ops {
        match op {
            Op::Delete(id) | Op::Retire(id) => {
                keys.push(key(id));
                let mode: &[u8] = if matches!(op, Op::Retire(_)) {
                    b"R"
                } else {
                    b"D"
                };
                args.extend([
                    mode.to_vec(),
                    id.to_string().into_bytes(),
                    b"0".to_vec(),
                    b"0".to_vec(),
                    b"0".to_vec(),
                    b"0".to_vec(),
                    b"0".to_vec(),
                ]);
            }
            Op::Write(write) => {
                keys.push(key(&write.id));
                let mode: &[u8] = match write.mode {
                    WriteMode::Create => b"C",
                    WriteMode::Upsert => b"U",
                    WriteMode::Update => b"W",
                };
                let clear: &[u8] = if write.clear { b"1" } else { b"0" };
                let expires_ms = write.expires_at.saturating_mul(1000);
                // The index's place in KEYS, after the ops' hashes.
                let owner = write.owner.map_or(0, |o| {
                    indexes.push(index(&o.owner));
                    batch.ops.len() + indexes.len()
                });
                args.extend([
                    mode.to_vec(),
                    clear.to_vec(),
                    expires_ms.to_string().into_bytes(),
                    write.set.len().to_string().into_bytes(),
                    write.remove.len().to_string().into_bytes(),
                    owner.to_string().into_bytes(),
                    write.expect.len().to_string().into_bytes(),
                ]);
                for (field, value) in &write.set {
                    args.push(field.clone().into_bytes());
                    args.push(value.clone());
                }
                args.extend(write.remove.iter().map(|f| f.clone().into_bytes()));
                for (field, value) in &write.expect {
                    args.push(field.clone().into_bytes());
                    args.push(if value.is_some() { b"1" } else { b"0" }.to_vec());
                    args.push(value.clone().unwrap_or_default());
                }
                if let Some(ownership) = &write.owner {
                    args.push(ownership.until.min(MAX_UNTIL).to_string().into_bytes());
                    args.push(member(&write.id, ownership).into_bytes());
                }
            }
        }
    }
    keys.extend(indexes);
    keys.extend(stream.map(|(stream, _)| stream.to_owned()));
    (keys, args)
}

/// The latest an index entry is kept, in Unix seconds (the year 2286):
/// past it Redis would refuse the index's expiry.
const MAX_UNTIL: u64 = 9_999_999_999;

/// An owner index's member for a record: `id:channel:created`, the
/// channel `p` (permanent) or `t`.
pub(crate) fn member(id: &SessionId, ownership: &Ownership) -> String {
    let channel = if ownership.permanent { 'p' } else { 't' };
    format!("{id}:{channel}:{}", ownership.created)
}

/// A member read back: the id, the channel, and when it was created.
pub(crate) fn parse_member(member: &str) -> Option<(SessionId, bool, u64)> {
    let mut parts = member.split(':');
    let id = parts.next()?.parse().ok()?;
    let permanent = match parts.next()? {
        "p" => true,
        "t" => false,
        _ => return None,
    };
    let created = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((id, permanent, created))
}
