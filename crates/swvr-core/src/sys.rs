//! Process information for benchmarks and diagnostics (not used by the
//! pipeline's results).

/// Peak resident set size of this process in MiB (`VmHWM` from
/// `/proc/self/status`), for benchmarks and diagnostics.
///
/// Returns `None` when `/proc` is unavailable (non-Linux systems, restricted
/// sandboxes) or the line cannot be read.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_mib(&status)
}

/// The `VmHWM` value of a `/proc/<pid>/status` text, converted from kB to MiB.
fn vm_hwm_mib(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: f64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => Some(value / 1024.0),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm_line() {
        let status = "Name:\tbench\nVmPeak:\t  999999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(vm_hwm_mib(status), Some(2.0));
        assert_eq!(vm_hwm_mib("VmRSS:\t1024 kB\n"), None);
        assert_eq!(vm_hwm_mib("VmHWM:\tmany kB\n"), None);
        assert_eq!(vm_hwm_mib("VmHWM:\t1024 MB\n"), None);
    }

    #[test]
    fn peak_rss_of_this_process() {
        let peak = peak_rss_mib();
        if std::path::Path::new("/proc/self/status").exists() {
            let mib = peak.unwrap();
            assert!(mib > 0.0 && mib.is_finite(), "peak {mib} MiB");
        } else {
            assert_eq!(peak, None);
        }
    }
}
