//! The commit script: a whole batch, checked then applied, in one EVALSHA.

use deadpool_redis::redis::Script;
use gimlet_core::backend::{Batch, Op, WriteMode};

/// Applies a batch atomically. `KEYS` holds one hash per op; `ARGV` holds,
/// per op, `mode clear expires_ms nset nremove`, then `nset` field-value
/// pairs, then `nremove` fields. Modes: `D` delete, `C` create (must not
/// exist), `U` upsert, `W` update (must exist).
///
/// Every hash holds a sentinel field `""` (session keys are never empty),
/// so that a record whose keys were all removed still exists.
const SOURCE: &str = r"
local ops = {}
local pos = 1
for i = 1, #KEYS do
  local nset = tonumber(ARGV[pos + 3])
  local nremove = tonumber(ARGV[pos + 4])
  ops[i] = { mode = ARGV[pos], clear = ARGV[pos + 1], expires = ARGV[pos + 2],
             nset = nset, nremove = nremove, first = pos + 5 }
  pos = pos + 5 + 2 * nset + nremove
end
for i = 1, #KEYS do
  local mode = ops[i].mode
  if mode == 'C' and redis.call('EXISTS', KEYS[i]) == 1 then return 'collision' end
  if mode == 'W' and redis.call('EXISTS', KEYS[i]) == 0 then return 'gone' end
end
for i = 1, #KEYS do
  local op, key = ops[i], KEYS[i]
  if op.mode == 'D' then
    redis.call('DEL', key)
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
    redis.call('PEXPIREAT', key, op.expires)
  end
end
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
}

impl Outcome {
    pub(crate) fn parse(reply: &str) -> Option<Self> {
        match reply {
            "ok" => Some(Outcome::Applied),
            "collision" => Some(Outcome::Collision),
            "gone" => Some(Outcome::Gone),
            _ => None,
        }
    }
}

/// The script's keys and arguments for `batch`.
pub(crate) fn arguments(
    batch: &Batch,
    key: impl Fn(&gimlet_core::SessionId) -> String,
) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut keys = Vec::with_capacity(batch.ops.len());
    let mut args: Vec<Vec<u8>> = Vec::new();
    for op in &batch.ops {
        match op {
            Op::Delete(id) => {
                keys.push(key(id));
                args.extend([
                    b"D".to_vec(),
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
                args.extend([
                    mode.to_vec(),
                    clear.to_vec(),
                    expires_ms.to_string().into_bytes(),
                    write.set.len().to_string().into_bytes(),
                    write.remove.len().to_string().into_bytes(),
                ]);
                for (field, value) in &write.set {
                    args.push(field.clone().into_bytes());
                    args.push(value.clone());
                }
                args.extend(write.remove.iter().map(|f| f.clone().into_bytes()));
            }
        }
    }
    (keys, args)
}
