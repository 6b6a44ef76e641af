//! The krew distribution, end to end and offline:
//!
//! 1. every template in `krew/` renders (krew-release-bot dialect) into a manifest that passes
//!    `validate-krew-manifest`'s rules for all six released platforms, with the suite's own
//!    conventions (one shared archive, the bin per plugin, LICENSE shipped, caveats);
//! 2. the archive is built for this machine from the binaries `cargo test` just built, the
//!    manifests are rendered for it, and each plugin is installed the way
//!    `kubectl krew install --manifest=... --archive=...` does it, into a temporary krew root;
//! 3. the real `kubectl` then runs each plugin (`--help`, `--version`) from krew's bin directory,
//!    lists it in `kubectl plugin list` without warnings, and completes its flags and subcommands
//!    through the `kubectl_complete-*` helper installed as `docs/install.md` says.
//!
//! The binaries come from `KUPGRADE_BIN_DIR` when set, otherwise from this test's own target
//! profile directory (`target/debug` under `cargo test`, where `cargo test --workspace` builds
//! them for the plugins' own CLI tests). Run alone, `cargo test -p e2e --test krew` does not
//! rebuild the plugins: run `cargo build --bins` first.
#![allow(clippy::print_stderr)]

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use xtask::{
    PLUGINS,
    archive::{self, Inputs},
    completion_bin, install,
    krew::{self, Plugin},
    platform::{Platform, RELEASED},
    plugin_bin,
    release::{self, Coverage},
    template,
};

const KUBECTL: &str = "/usr/bin/kubectl";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// Where the plugin binaries are: `KUPGRADE_BIN_DIR`, or the profile directory this test
/// executable was built into (`target/debug/deps/krew-*` → `target/debug`).
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUPGRADE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Renders a template with a made-up sha256 per url, as the bot would with real downloads.
fn render_all_platforms(name: &str) -> (String, Plugin) {
    let path = release::template_path(&root(), name);
    let source = fs::read_to_string(&path).unwrap();
    let rendered = template::render(&source, &tag(), |url| {
        Ok(Some(archive::hex(&sha2_of(url.as_bytes()))))
    })
    .unwrap();
    assert!(rendered.unresolved.is_empty());
    let plugin = krew::validate(&format!("{name}.yaml"), &rendered.text)
        .unwrap_or_else(|problems| panic!("{name}: {}", problems.join("\n")));
    (rendered.text, plugin)
}

/// A stand-in digest: 32 bytes derived from the input (any 64-hex string will do).
fn sha2_of(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in data.iter().enumerate() {
        out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(*b);
    }
    out
}

#[test]
fn templates_render_valid_manifests_for_every_platform() {
    let mut uris_per_platform: Vec<BTreeSet<String>> = vec![BTreeSet::new(); RELEASED.len()];
    for name in PLUGINS {
        let (text, plugin) = render_all_platforms(name);
        assert_eq!(plugin.metadata.name, name);
        assert_eq!(plugin.spec.version, tag());
        assert!(!text.contains("{{"), "{name}: unrendered template action");
        assert_eq!(
            plugin.spec.platforms.len(),
            RELEASED.len(),
            "{name}: one entry per released platform"
        );
        for (i, p) in RELEASED.iter().enumerate() {
            let spec = plugin
                .platform_for(*p)
                .unwrap_or_else(|| panic!("{name}: no entry for {p}"));
            let archive = archive::archive_name(&tag(), *p);
            assert!(
                spec.uri
                    .ends_with(&format!("/releases/download/{}/{archive}", tag())),
                "{name} {p}: {}",
                spec.uri
            );
            uris_per_platform[i].insert(spec.uri.clone());
            let bin = format!("{}{}", plugin_bin(name), p.exe_suffix());
            assert_eq!(spec.bin, bin, "{name} {p}");
            let files: Vec<&str> = spec
                .files
                .iter()
                .flatten()
                .map(|f| f.from.as_str())
                .collect();
            assert!(files.contains(&bin.as_str()), "{name} {p}: {files:?}");
            assert!(files.contains(&"LICENSE"), "{name} {p}: {files:?}");
        }
        let caveats = plugin.spec.caveats.as_deref().unwrap_or_default();
        assert!(
            caveats.contains(&completion_bin(name)),
            "{name}: the caveats explain the completion helper"
        );
        let admin = caveats.contains("cluster-admin");
        assert_eq!(
            admin,
            matches!(name, "ks-migrate" | "untaint-member"),
            "{name}: cluster-admin caveat"
        );
        assert_eq!(caveats.contains("helm"), name == "ks-migrate", "{name}");
        assert!(plugin.spec.description.is_some(), "{name}: description");
    }
    // One archive per platform, shared by the four manifests.
    assert!(uris_per_platform.iter().all(|u| u.len() == 1));
}

#[test]
fn the_release_bot_indentation_is_respected() {
    // addURIAndSha writes `sha256:` four spaces in: our calls sit at column 4.
    for name in PLUGINS {
        let source = fs::read_to_string(release::template_path(&root(), name)).unwrap();
        for line in source.lines().filter(|l| l.contains("{{addURIAndSha")) {
            assert!(
                line.starts_with("    {{addURIAndSha ") && !line.contains("| indent"),
                "{name}: {line}"
            );
        }
    }
}

fn kubectl(path_env: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .args(args)
        .env_clear()
        .env("PATH", path_env)
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .output()
        .unwrap_or_else(|e| panic!("run {KUBECTL}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The candidates of a `kubectl __complete` answer, and its directive.
fn completion(o: &Output) -> (Vec<String>, String) {
    let out = stdout(o);
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    let values = lines
        .into_iter()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    (values, directive)
}

/// The subcommands a `--help` lists under `Commands:` (clap's layout), without `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // a wrapped description goes on at a deeper indent: only `  NAME  …` lines name one
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn installed_as_krew_does_and_run_through_kubectl() {
    if !Path::new(KUBECTL).is_file() {
        panic!("{KUBECTL} is missing: this test runs the plugins through the real kubectl");
    }
    let bins = bin_dir();
    let missing: Vec<String> = PLUGINS
        .iter()
        .map(|p| plugin_bin(p))
        .filter(|b| !bins.join(b).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} not built in {} (run `cargo build --bins`, or set KUPGRADE_BIN_DIR)",
        bins.display()
    );

    let work = tempfile::tempdir().unwrap();
    let host = Platform::host().unwrap();
    let dist = work.path().join("dist");
    let built = archive::build(
        &Inputs {
            bin_dir: bins.clone(),
            root: root(),
            tag: tag(),
            platform: host,
            mtime: 0,
            compression: 1,
        },
        &dist,
    )
    .unwrap();
    assert_eq!(built.sha256.len(), 64);

    // The manifests for this machine, rendered as `cargo xtask release` renders them.
    let manifests = release::render_manifests(&root(), &tag(), &dist, Coverage::Available).unwrap();
    let krew_root = work.path().join("krew");
    let home = work.path().join("home");
    fs::create_dir_all(&home).unwrap();
    for m in &manifests {
        assert_eq!(
            m.plugin.spec.platforms.len(),
            1,
            "{}: host platform only",
            m.name
        );
        let spec = m.plugin.platform_for(host).unwrap();
        assert_eq!(spec.sha256, built.sha256);
        // As validate-krew-manifest: the file validates, installs, and installs a LICENSE.
        krew::validate(&format!("{}.yaml", m.name), &m.text).unwrap();
        let installed = install::install(&krew_root, &m.plugin, &built.path, host).unwrap();
        assert_eq!(
            installed.link,
            krew_root
                .join("bin")
                .join(install::link_name(&m.name, host))
        );
        assert!(
            install::license_file(&installed.install_dir).is_some(),
            "{}: no LICENSE installed",
            m.name
        );
        // Only this plugin's files are installed from the shared archive.
        let mut files: Vec<String> = fs::read_dir(&installed.install_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut want = vec![
            "LICENSE".to_string(),
            plugin_bin(&m.name),
            completion_bin(&m.name),
        ];
        want.sort();
        assert_eq!(files, want, "{}", m.name);
        // A second install is refused, as krew does.
        assert!(install::install(&krew_root, &m.plugin, &built.path, host).is_err());
    }
    // A tampered archive is refused.
    let mut tampered = manifests[0].plugin.clone();
    tampered.metadata.name = "tampered".into();
    tampered.spec.platforms[0].sha256 = "0".repeat(64);
    let e = install::install(&krew_root, &tampered, &built.path, host).unwrap_err();
    assert!(e.to_string().contains("checksum does not match"), "{e}");

    // kubectl finds the plugins through krew's bin directory alone.
    let krew_bin = krew_root.join("bin");
    let only_krew = krew_bin.to_string_lossy().into_owned();
    for name in PLUGINS {
        let help = kubectl(&only_krew, &home, &[name, "--help"]);
        assert!(help.status.success(), "{name} --help: {}", stderr(&help));
        assert!(
            stdout(&help).contains("Usage:") && stdout(&help).contains("--kubeconfig"),
            "{name} --help: {}",
            stdout(&help)
        );
        let version = kubectl(&only_krew, &home, &[name, "--version"]);
        assert!(
            version.status.success(),
            "{name} --version: {}",
            stderr(&version)
        );
        assert!(
            stdout(&version).starts_with(&format!("kubectl {name} {}", env!("CARGO_PKG_VERSION"))),
            "{name} --version: {}",
            stdout(&version)
        );
    }
    let list = kubectl(&only_krew, &home, &["plugin", "list"]);
    assert!(list.status.success(), "plugin list: {}", stderr(&list));
    for name in PLUGINS {
        let link = krew_bin.join(plugin_bin(name));
        assert!(
            stdout(&list).contains(&link.to_string_lossy().into_owned()),
            "plugin list: {}",
            stdout(&list)
        );
    }
    assert!(
        !stderr(&list).to_lowercase().contains("warning"),
        "plugin list warns: {}",
        stderr(&list)
    );

    // Completion: copy each helper next to the link, as docs/install.md and the caveats say.
    for m in &manifests {
        let helper = completion_bin(&m.name);
        let from = krew_root
            .join("store")
            .join(&m.name)
            .join(&m.plugin.spec.version)
            .join(&helper);
        fs::copy(&from, krew_bin.join(&helper)).unwrap();
    }
    // The helpers run `sh` and `kubectl`: the system directories follow krew's.
    let with_system = format!("{only_krew}:/usr/local/bin:/usr/bin:/bin");
    let list = kubectl(&with_system, &home, &["plugin", "list"]);
    assert!(
        !stderr(&list).to_lowercase().contains("warning"),
        "plugin list warns once the helpers are installed: {}",
        stderr(&list)
    );

    let out = kubectl(
        &with_system,
        &home,
        &["__complete", "upgrade-plan", "--out"],
    );
    let (values, directive) = completion(&out);
    assert!(
        values.contains(&"--output".to_string()),
        "{values:?} {}",
        stderr(&out)
    );
    assert_eq!(directive, ":4");

    let out = kubectl(&with_system, &home, &["__complete", "health", "--kube"]);
    assert_eq!(completion(&out).0, ["--kubeconfig"]);
    // A path-valued flag leaves the value to the shell's file completion.
    let out = kubectl(
        &with_system,
        &home,
        &["__complete", "health", "--kubeconfig", ""],
    );
    assert_eq!(completion(&out), (vec![], ":0".to_string()));

    // ks-migrate: its subcommands once it has them, its flags in any case.
    let help = stdout(&kubectl(&only_krew, &home, &["ks-migrate", "--help"]));
    let subs = subcommands(&help);
    let out = kubectl(&with_system, &home, &["__complete", "ks-migrate", ""]);
    let (values, directive) = completion(&out);
    assert_eq!(directive, ":4", "{}", stderr(&out));
    for sub in &subs {
        assert!(values.contains(sub), "{sub} missing from {values:?}");
    }
    if subs.is_empty() {
        eprintln!("ks-migrate has no subcommands yet: only its flags are checked");
    } else {
        for sub in ["host", "member", "gateway"] {
            assert!(
                values.contains(&sub.to_string()),
                "{sub} missing from {values:?}"
            );
        }
    }
    let out = kubectl(&with_system, &home, &["__complete", "ks-migrate", "--cont"]);
    assert_eq!(completion(&out).0, ["--context"], "{}", stderr(&out));

    // kubectl's own `__completeNoDesc` strips the descriptions the plugins give.
    let out = kubectl(
        &with_system,
        &home,
        &["__completeNoDesc", "untaint-member", "--namesp"],
    );
    assert_eq!(stdout(&out), "--namespace\n:4\n");
}
