//! `retune completions SHELL` and `retune man [STEP]`: shell completions and roff manual pages
//! generated from the command line's own definition, printed to standard output (so they never
//! overwrite a file): `retune completions bash > ~/.local/share/bash-completion/completions/retune`,
//! `retune man serve | man -l -`.

use clap::CommandFactory;

/// Print shell completions for `retune`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print a manual page (roff) for `retune` or one of its steps.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// The step (`serve`, `finetune`, ...); the program's own page when absent.
    step: Option<String>,
}

/// Writes the completions script to standard output.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "retune", &mut script);
    print(&script)
}

/// Writes `bytes` to standard output; a reader that stopped early (`| head`) is no error.
fn print(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The roff page of `retune` or of `retune STEP`.
pub fn man_page(step: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let root = super::Cli::command();
    let cmd = match step {
        None => root,
        Some(name) => {
            let names: Vec<String> = root
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| c.get_name().to_owned())
                .collect();
            let sub = root
                .find_subcommand(name)
                .filter(|c| !c.is_hide_set())
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!("no step named {name:?} (steps: {})", names.join(", "))
                })?;
            sub.name(format!("retune-{name}"))
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

/// Writes the page to standard output.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    print(&man_page(args.step.as_deref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_pages_cover_every_step() {
        let mut cmd = super::super::Cli::command();
        let mut bash = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "retune", &mut bash);
        let bash = String::from_utf8(bash).unwrap();
        for step in ["quickstart", "finetune", "serve", "evaluate"] {
            assert!(bash.contains(step), "{step}");
        }
        let page = String::from_utf8(man_page(None).unwrap()).unwrap();
        assert!(
            page.contains(".TH retune") && page.contains("serve"),
            "{page}"
        );
        let serve = String::from_utf8(man_page(Some("serve")).unwrap()).unwrap();
        assert!(
            serve.contains(".TH retune-serve") && serve.contains("max\\-batch\\-tokens"),
            "{serve}"
        );
        let err = man_page(Some("nope")).unwrap_err().to_string();
        assert!(
            err.contains("no step named") && err.contains("serve"),
            "{err}"
        );
        assert!(
            man_page(Some("make-fixtures")).is_err(),
            "hidden steps have no page"
        );
    }
}
