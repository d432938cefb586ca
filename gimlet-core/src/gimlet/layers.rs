//! The three layers of settings and the one rule that composes them: the
//! builder's setters win, whatever the order of the calls; the `GIMLET_*`
//! variables fill what they left open; `config(…)` or the defaults lie
//! under both. And what `build` says of them.

use crate::config::env;
use crate::error::ConfigErrorKind;
use crate::{Config, ConfigError, Placement};

/// A setter's change, applied at build time over the environment's.
pub(super) struct Setter {
    /// The setting it changes, as the environment's table names it.
    pub(super) setting: &'static str,
    pub(super) apply: Box<dyn FnOnce(&mut Config) + Send + Sync>,
}

/// A source of `GIMLET_*` variables: a name's value, if set.
pub(super) type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where [`GimletBuilder::build`] reads `GIMLET_*` variables.
pub(super) enum Environment {
    Process,
    Lookup(Box<Lookup>),
    None,
}

impl Environment {
    /// What `Debug` shows of it.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Environment::Process => "process",
            Environment::Lookup(_) => "lookup",
            Environment::None => "none",
        }
    }
}

/// The settings `build` uses: `config`, then what `environment` sets, then
/// the setters' changes; then the declared keys join the whitelists.
///
/// # Errors
///
/// A variable that does not parse, or a declared key with no placement.
pub(super) fn resolve(
    mut config: Config,
    environment: Environment,
    code: Vec<Setter>,
    declared: Vec<(&'static str, Placement)>,
) -> Result<Config, ConfigError> {
    let from_env = match environment {
        Environment::Process => env::apply(&mut config, |name| std::env::var(name).ok())?,
        Environment::Lookup(lookup) => env::apply(&mut config, lookup)?,
        Environment::None => Vec::new(),
    };
    let mut by_code = Vec::with_capacity(code.len());
    for setter in code {
        (setter.apply)(&mut config);
        by_code.push(setter.setting);
    }
    report_layers(&from_env, &by_code);
    for (name, placement) in declared {
        if placement.clientside != Some(true) && placement.permanent != Some(true) {
            return Err(ConfigError::new(
                ConfigErrorKind::Placement,
                format!(
                    "`.key()` declares keys that live in the cookie or outlive the browser, \
                     and `{name}` is neither: drop the call (a key's own placement applies \
                     at every call anyway), or declare it `.clientside()` or `.permanent()`"
                ),
            ));
        }
        if placement.clientside == Some(true) {
            config.clientside_keys.insert(name.to_owned());
        }
        if placement.permanent == Some(true) {
            config.permanent_keys.insert(name.to_owned());
        }
    }
    Ok(config)
}

/// Logs which settings came from the environment, and warns of each
/// variable a setter overrode.
fn report_layers(from_env: &[env::Found], by_code: &[&'static str]) {
    let (shadowed, used): (Vec<&env::Found>, Vec<&env::Found>) = from_env
        .iter()
        .partition(|found| by_code.contains(&found.setting));
    for found in shadowed {
        tracing::warn!(
            variable = found.name,
            setting = found.setting,
            "gimlet: {} is set, but the code sets {} too, and the code wins",
            found.name,
            found.setting,
        );
    }
    if !used.is_empty() {
        let names: Vec<&str> = used.iter().map(|found| found.name).collect();
        tracing::info!(
            "gimlet: settings from the environment: {}",
            names.join(", ")
        );
    }
}
