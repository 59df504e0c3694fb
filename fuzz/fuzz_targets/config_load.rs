//! Fuzz target: the configuration loader on an arbitrary file (TOML or not), with no
//! environment.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use redis_cache_exporter::cli::Cli;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write temp file");
    let cli = Cli {
        config: Some(file.path().to_path_buf()),
        ..Cli::default()
    };
    let _ = cli.load_with_env(&|_| None);
});
