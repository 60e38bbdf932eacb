//! Start-up environment that keeps the app's resident memory small (issue #5: under 150 MiB
//! RSS idle and with 10,000 pending drafts, as measured by `scripts/bench-memory.sh`).
//!
//! Two kinds of settings, each applied only when the user has not set that variable:
//!
//! - glibc's allocator ([`MALLOC_SETTINGS`]): fewer arenas, large blocks returned to the kernel.
//!   glibc reads them only when a process starts, so the app re-executes itself once, at the
//!   very start, with them added ([`reexec_with_lean_settings`]; no unsafe code).
//! - Without a GPU render node, no GL stack in this process ([`NO_GPU_SETTINGS`]): GTK and
//!   WebKitGTK would otherwise load Mesa's llvmpipe driver here, and with it libLLVM.
//!
//! The web processes that WebKit starts inherit the environment, so they get the settings too
//! (there the allocator settings reach only glibc's heap; WebKit allocates most with its own).
//! The variables that [`crate::strip_webview_debugging`] removes are removed before the
//! re-exec, which passes on the environment as it is then, so they stay removed.
//!
//! Measured with `scripts/bench-memory.sh` (release build, WebKitGTK 2.50.6, Mesa 22.3.6
//! llvmpipe, Xvfb, 10,000 drafts from 100 agents), the two runs back to back on an otherwise
//! idle machine, RSS / PSS / USS in MiB:
//!
//! | process               | idle                  | 10,000 drafts         |
//! |-----------------------|-----------------------|-----------------------|
//! | app, before           | 173.4 / 97.4 / 54.7   | 223.1 / 146.5 / 103.9 |
//! | app, with these       | 114.4 / 70.1 / 45.8   | 134.2 / 87.4 / 61.4   |
//! | web content, before   | 274.8 / 200.9 / 160.2 | 417.5 / 343.1 / 302.5 |
//! | web content, with     | 178.9 / 116.6 / 74.3  | 291.4 / 228.5 / 186.4 |
//!
//! Two more runs with these settings gave the app 111.5 and 111.2 idle, 130.9 and 133.6 with
//! the drafts (RSS); PSS moves with whatever else maps the same libraries at the time. libLLVM
//! was 43 MiB of the app's RSS; the rest of the drop with 10,000 drafts is freed heap glibc
//! kept. The web content process still renders with llvmpipe (and still maps libLLVM); why it
//! shrank too was not broken down. The window looks the same (checked with a screenshot under
//! Xvfb).

use std::ffi::OsString;

/// glibc reads these only when a process starts, so they take effect through one re-exec.
///
/// - `MALLOC_ARENA_MAX=2`: by default glibc gives each thread that contends for the heap an
///   arena of its own (up to 8 per core); the async runtime and its blocking pool then keep
///   freed memory spread over many arenas, where it is seldom given back.
/// - `MALLOC_MMAP_THRESHOLD_=131072`: blocks of 128 KiB and more (a 10,000-row queue listing,
///   its JSON) come from `mmap` and go back to the kernel when freed. Setting it also stops
///   glibc from raising the threshold (up to 32 MiB) after each such block is freed, after
///   which such blocks would stay in the heap.
const MALLOC_SETTINGS: [(&str, &str); 2] = [
    ("MALLOC_ARENA_MAX", "2"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
];

/// Keep the review window's process (the one that runs this code) from loading Mesa's software
/// GL driver, which links LLVM (43 MiB of the app's RSS). Applied only where there is no GPU
/// render node (`/dev/dri/renderD*`), i.e. where WebKit renders with llvmpipe anyway; the web
/// content process still does.
///
/// - `GDK_GL=disable`: GTK 3 otherwise sets up GLX (through libepoxy) to pick its visuals; the
///   app draws no GL itself.
/// - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: WebKitGTK otherwise opens an EGL display in this
///   process to receive the web process's frames as DMA-BUFs.
/// - `WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null`: the render device handed to the web process.
///   Without it WebKitGTK opens an EGL display here (when it starts the web process) to ask Mesa
///   for one; there is none, and the web process, unable to use /dev/null, renders without GBM
///   as it did. All three are needed: with any one left out, libLLVM is still loaded here.
const NO_GPU_SETTINGS: [(&str, &str); 3] = [
    ("GDK_GL", "disable"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
];

/// Where the settings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Host {
    /// A GPU render node exists (`/dev/dri/renderD*`).
    pub has_render_node: bool,
    /// tauri-driver drives the window (a debug build under the end-to-end tests): WebKit's
    /// WebDriver screenshots hang with the DMA-BUF renderer off (WebKitGTK 2.50 under Xvfb,
    /// see tests/e2e/run.sh; checked again with these settings: the 5 of the 8 suites
    /// that take a screenshot time out), so the GL settings are left out there.
    pub automation: bool,
}

impl Host {
    /// This machine and this process.
    pub(crate) fn current() -> Host {
        let has_render_node = std::fs::read_dir("/dev/dri")
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            })
            .unwrap_or(false);
        Host {
            has_render_node,
            automation: std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true"),
        }
    }
}

/// The settings to add on `host`: each one whose variable the environment does not set at all
/// (a value the user set, even an empty one, is kept). `get` reads a variable.
pub(crate) fn missing_settings(
    host: Host,
    get: impl Fn(&str) -> Option<OsString>,
) -> Vec<(&'static str, &'static str)> {
    let gl: &[(&str, &str)] = if host.has_render_node || host.automation {
        &[]
    } else {
        &NO_GPU_SETTINGS
    };
    MALLOC_SETTINGS
        .iter()
        .chain(gl)
        .copied()
        .filter(|(name, _)| get(name).is_none())
        .collect()
}

/// Re-executes the app, once, with the settings it lacks ([`missing_settings`]), keeping its
/// arguments and the rest of its environment as they are now (so variables removed before this
/// call stay removed). Returns when nothing is missing, or when the re-exec fails (the app then
/// runs with the defaults: larger, not broken). Call it before any thread is started. Only on
/// Linux, where glibc, GTK and WebKitGTK read these variables.
#[cfg(unix)]
pub(crate) fn reexec_with_lean_settings() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let missing = missing_settings(Host::current(), |name| std::env::var_os(name));
    if missing.is_empty() {
        return;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::debug!("memory settings not applied (no executable path): {e}");
            return;
        }
    };
    use std::os::unix::process::CommandExt as _;
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command.args(args).envs(missing.iter().copied());
    // `exec` returns only on failure.
    let e = command.exec();
    tracing::debug!("memory settings not applied (re-exec failed): {e}");
}

/// Elsewhere these variables mean nothing: the app runs as it is.
#[cfg(not(unix))]
pub(crate) fn reexec_with_lean_settings() {}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_GPU: Host = Host {
        has_render_node: false,
        automation: false,
    };

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    fn names(settings: &[(&str, &str)]) -> Vec<String> {
        settings.iter().map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn without_a_gpu_a_bare_environment_gets_every_setting() {
        let all: Vec<_> = MALLOC_SETTINGS
            .iter()
            .chain(&NO_GPU_SETTINGS)
            .copied()
            .collect();
        assert_eq!(
            missing_settings(NO_GPU, env(&[])),
            all,
            "no variable set: the allocator and the no-GPU settings are all added"
        );
    }

    #[test]
    fn with_a_gpu_or_under_automation_only_the_allocator_is_tuned() {
        for host in [
            Host {
                has_render_node: true,
                automation: false,
            },
            Host {
                has_render_node: false,
                automation: true,
            },
        ] {
            assert_eq!(
                missing_settings(host, env(&[])),
                MALLOC_SETTINGS.to_vec(),
                "{host:?}: WebKit keeps its GL defaults (GPU rendering, WebDriver screenshots)"
            );
        }
    }

    #[test]
    fn a_value_the_user_set_is_never_overridden() {
        let missing = missing_settings(
            NO_GPU,
            env(&[
                ("MALLOC_ARENA_MAX", "8"),
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "0"),
            ]),
        );
        assert_eq!(
            names(&missing),
            [
                "MALLOC_MMAP_THRESHOLD_",
                "GDK_GL",
                "WEBKIT_WEB_RENDER_DEVICE_FILE"
            ],
            "the user's values stay; only the unset variables are added"
        );
        let all_empty: Vec<(&str, &str)> = MALLOC_SETTINGS
            .iter()
            .chain(&NO_GPU_SETTINGS)
            .map(|(n, _)| (*n, ""))
            .collect();
        assert!(
            missing_settings(NO_GPU, env(&all_empty)).is_empty(),
            "even an empty value counts as set, so the app does not re-exec"
        );
    }

    #[test]
    fn the_settings_once_applied_ask_for_no_second_re_exec() {
        let applied = missing_settings(NO_GPU, env(&[]));
        assert!(
            missing_settings(NO_GPU, env(&applied)).is_empty(),
            "after the re-exec every setting is present, so the app cannot loop"
        );
    }

    #[test]
    fn no_setting_touches_the_variables_stripped_at_start() {
        let all = names(&missing_settings(NO_GPU, env(&[])));
        for stripped in [
            "TAURI_WEBVIEW_AUTOMATION",
            "WEBKIT_INSPECTOR_SERVER",
            "WEBKIT_INSPECTOR_HTTP_SERVER",
            "WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS",
        ] {
            assert!(
                !all.iter().any(|n| n == stripped),
                "{stripped} is removed before the re-exec and must not come back with it"
            );
        }
    }
}
