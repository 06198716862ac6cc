//! indicatif progress bars behind the library's [`Progress`] trait.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use swvr_core::progress::{Progress, Unit};

/// Draws one bar per phase on stderr, or nothing when disabled.
pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars are shown only on a terminal, without `--quiet` and `NO_COLOR`.
    pub fn new(quiet: bool) -> Self {
        let enabled = !quiet && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
        Self {
            enabled,
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: Option<u64>, unit: Unit) {
        if !self.enabled {
            return;
        }
        let counts = match unit {
            Unit::Bytes => "{binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}".to_string(),
            _ => format!("{{human_pos}}/{{human_len}} {}", unit.name()),
        };
        let template = match total {
            Some(_) => format!("{{prefix:>10}} [{{bar:30}}] {counts} {{elapsed}}"),
            None => format!("{{prefix:>10}} {{spinner}} {counts} {{elapsed}}"),
        };
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.set_prefix(phase.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut slot) = self.bar.lock()
            && let Some(old) = slot.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
