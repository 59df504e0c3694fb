//! A target's static label that repeats a label of the exporter's own families (here `shard`,
//! of `redis_cluster_node_info`) is refused before anything starts: by `--check-config` and at
//! start alike, with the label, the target and the file's line, and exit status 1 as for any
//! other configuration error.

use std::process::Command;

#[test]
fn a_static_label_of_ours_is_refused_at_start_and_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\n[[targets]]\nname = \"sessions\"\n\
         url = \"redis://127.0.0.1:1\"\nlabels = { team = \"web\",\n  shard = \"a\" }\n",
    )
    .unwrap();
    for check_only in [true, false] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"));
        cmd.arg("--config").arg(&path);
        if check_only {
            cmd.arg("--check-config");
        }
        let out = cmd.output().expect("run redis-cache-exporter");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "check only: {check_only}; {err}"
        );
        for part in [
            "invalid configuration",
            &format!("{}, line 6", path.display()),
            "target \"sessions\"",
            "`labels`",
            "label name \"shard\" is reserved",
        ] {
            assert!(err.contains(part), "{err:?} does not contain {part:?}");
        }
    }
}
