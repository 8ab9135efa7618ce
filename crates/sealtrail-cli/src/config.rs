//! `serve --config sealtrail.toml` and `sealtrail config check`: a TOML file of serve's
//! settings, one key per flag (the flag's name with `_` for `-`: `max_body_bytes = 8388608`,
//! `witness = ["…", "…"]`, `no_nightly_prune = true`). A flag on the command line wins over
//! the environment (`SEALTRAIL_*`), which wins over the file, which wins over the default:
//! the file's settings are added to the command line only where neither a flag nor the
//! environment gave one, and clap then checks them exactly as it checks flags. An unknown key
//! or a value of the wrong kind is an error naming the key, never silently ignored.

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::Path;

/// The settings of `file` as command-line arguments of `serve`, leaving out those for which
/// `given` says a flag or the environment already set the value.
pub fn arguments(
    file: &Path,
    serve: &Command,
    given: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("the configuration file {}: {e}", file.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {e}", file.display()))?;
    let name = file.display();
    let mut out = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config" && long != "help")
            .ok_or_else(|| {
                format!("{name}: `{key}` is not a setting (the keys are serve's flags, with _ for -; see docs/configuration.md)")
            })?;
        if given(arg.get_id().as_str()) {
            continue;
        }
        let flag = format!("--{long}");
        let switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let items = match value {
            toml::Value::Array(items) => items,
            single => vec![single],
        };
        if items.len() > 1 && !matches!(arg.get_action(), ArgAction::Append) {
            return Err(format!("{name}: `{key}` takes one value, not a list"));
        }
        for item in items {
            match (switch, item) {
                (true, toml::Value::Boolean(on)) => {
                    if on {
                        out.push(OsString::from(&flag));
                    }
                }
                (true, other) => {
                    return Err(format!(
                        "{name}: `{key}` is on or off: true or false, not a {}",
                        other.type_str()
                    ))
                }
                (false, toml::Value::String(s)) => out.push(OsString::from(format!("{flag}={s}"))),
                (false, toml::Value::Integer(i)) => out.push(OsString::from(format!("{flag}={i}"))),
                (false, toml::Value::Float(f)) => out.push(OsString::from(format!("{flag}={f}"))),
                (false, toml::Value::Boolean(b)) => out.push(OsString::from(format!("{flag}={b}"))),
                (false, other) => {
                    return Err(format!(
                        "{name}: `{key}` takes a string or a number, not {}",
                        other.type_str()
                    ))
                }
            }
        }
    }
    Ok(out)
}

/// Whether a flag or the environment gave argument `id` in `matches`.
pub fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// `argv` with `serve`'s configuration file applied, when the command is `serve` and a file
/// is named (`--config` or `SEALTRAIL_CONFIG`); unchanged otherwise, so clap reports any
/// other problem with the command line itself.
pub fn apply(cli: &Command, argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    // Errors ignored: a setting the file completes (`database` for a `--database-ca` flag)
    // would fail this first look, which only asks which settings the command line has.
    let Ok(matches) = cli.clone().ignore_errors(true).try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some(serve) = matches.subcommand_matches("serve") else {
        return Ok(argv);
    };
    let Some(file) = serve.get_one::<std::path::PathBuf>("config") else {
        return Ok(argv);
    };
    let Some(command) = cli.find_subcommand("serve") else {
        return Ok(argv);
    };
    let mut argv = argv;
    argv.extend(arguments(file, command, |id| given(serve, id))?);
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value_t = 10)]
        max_body_bytes: usize,
        #[arg(long)]
        no_nightly_prune: bool,
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    }

    fn with(text: &str, given: &[&str]) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sealtrail.toml");
        std::fs::write(&file, text).unwrap();
        let command = <Serve as clap::CommandFactory>::command();
        arguments(&file, &command, |id| given.contains(&id)).map(|args| {
            args.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn every_kind_of_setting_becomes_its_flag() {
        let args = with(
            "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 42\nno_nightly_prune = true\nwitness = [\"a b\", \"c d\"]\n",
            &[],
        )
        .unwrap();
        let parsed =
            Serve::try_parse_from(std::iter::once("serve".to_string()).chain(args)).unwrap();
        assert_eq!(parsed.listen, "0.0.0.0:9000");
        assert_eq!(parsed.max_body_bytes, 42);
        assert!(parsed.no_nightly_prune);
        assert_eq!(parsed.witnesses, ["a b", "c d"]);
    }

    #[test]
    fn a_flag_or_the_environment_wins_over_the_file() {
        let args = with(
            "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 42\n",
            &["listen"],
        )
        .unwrap();
        assert_eq!(args, ["--max-body-bytes=42"]);
    }

    #[test]
    fn mistakes_are_named() {
        let error = with("lsten = \"x\"\n", &[]).unwrap_err();
        assert!(error.contains("`lsten` is not a setting"), "{error}");
        let error = with("no_nightly_prune = \"yes\"\n", &[]).unwrap_err();
        assert!(error.contains("true or false"), "{error}");
        let error = with("listen = [\"a\", \"b\"]\n", &[]).unwrap_err();
        assert!(error.contains("one value"), "{error}");
        let error = with("listen = {a = 1}\n", &[]).unwrap_err();
        assert!(error.contains("string or a number"), "{error}");
        let error = with("config = \"other.toml\"\n", &[]).unwrap_err();
        assert!(error.contains("not a setting"), "{error}");
        let error = with("listen = \n", &[]).unwrap_err();
        assert!(error.contains("not valid TOML"), "{error}");
    }
}

/// `sealtrail config …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file without starting anything: every key known, every value
    /// valid, the rules `serve` checks before it starts; prints the settings `serve` would run
    /// with here (this environment included) and where each comes from.
    Check {
        /// The file (default: `SEALTRAIL_CONFIG`).
        #[arg(long, env = "SEALTRAIL_CONFIG")]
        config: std::path::PathBuf,
    },
}

/// Runs `config check`: exit 0 when `serve` would accept the file, 1 with the reason if not.
pub fn run(cli: &Command, command: ConfigCommand) -> anyhow::Result<std::process::ExitCode> {
    use clap::FromArgMatches;
    let ConfigCommand::Check { config: file } = command;
    let serve = cli
        .find_subcommand("serve")
        .ok_or_else(|| anyhow::anyhow!("no serve command"))?;
    let from_environment = serve
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(["serve"])
        .map_err(|e| anyhow::anyhow!("the environment's SEALTRAIL_* settings: {e}"))?;
    let args =
        arguments(&file, serve, |id| given(&from_environment, id)).map_err(anyhow::Error::msg)?;
    let argv = std::iter::once(OsString::from("serve")).chain(args);
    let matches = match serve.clone().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => {
            println!(
                "{}: FAILED — {}",
                file.display(),
                e.render().to_string().trim()
            );
            return Ok(std::process::ExitCode::FAILURE);
        }
    };
    let parsed = crate::serve::ServeArgs::from_arg_matches(&matches)?;
    if let Err(e) = parsed.check() {
        println!("{}: FAILED — {e}", file.display());
        return Ok(std::process::ExitCode::FAILURE);
    }
    println!("{}: OK", file.display());
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Some(source)) = (arg.get_long(), matches.value_source(id)) else {
            continue;
        };
        if long == "help" {
            continue;
        }
        let from = match source {
            ValueSource::CommandLine => "file",
            ValueSource::EnvVariable => "environment",
            _ => "default",
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| sealtrail_store::pg::redacted_url(&v.to_string_lossy()))
            .collect();
        println!(
            "  {} = {}  ({from})",
            long.replace('-', "_"),
            values.join(", ")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
