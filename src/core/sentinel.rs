//! Sentinel: the pure parsing of `SENTINEL GET-MASTER-ADDR-BY-NAME` and `SENTINEL REPLICAS`
//! (`SENTINEL SLAVES` before Redis 5) replies into the instances of a Sentinel-managed group.
//!
//! Pure: replies in, addresses out; no IO. The discovery task that asks the sentinels every
//! poll interval and runs a poller per instance is [`crate::targets::discovery`]. Reply formats:
//! <https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#sentinel-commands>.

use super::reply::Reply;

/// A string reply's text, or an integer reply's digits (ports come as either).
fn text(v: &Reply) -> Option<String> {
    match v {
        Reply::Int(i) => Some(i.to_string()),
        other => other.text(),
    }
}

/// The master's `(host, port)`, or `None` when the sentinel does not monitor that name.
pub(crate) fn parse_master_addr(reply: &Reply) -> Result<Option<(String, u16)>, String> {
    match reply {
        Reply::Nil => Ok(None),
        Reply::Array(items) if items.len() == 2 => {
            let host = text(&items[0]).ok_or("master address: host is not text")?;
            let port = text(&items[1])
                .and_then(|p| p.parse().ok())
                .ok_or("master address: bad port")?;
            Ok(Some((host, port)))
        }
        _ => Err("GET-MASTER-ADDR-BY-NAME reply is not [host, port]".into()),
    }
}

/// The replicas' `(host, port)`, leaving out those the sentinel sees as down (`s_down`,
/// `o_down`) or not yet connected: a sentinel keeps listing a replica long after it is gone
/// (the old master after a failover, until `SENTINEL RESET`).
pub(crate) fn parse_replicas(reply: &Reply) -> Result<Vec<(String, u16)>, String> {
    let Reply::Array(items) = reply else {
        return Err("REPLICAS reply is not an array".into());
    };
    let mut out = Vec::new();
    for item in items {
        let fields = item.pairs().ok_or("REPLICAS entry is not a map")?;
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| text(v))
        };
        let flags = get("flags").unwrap_or_default();
        if flags
            .split(',')
            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
        {
            continue;
        }
        let (Some(ip), Some(port)) = (get("ip"), get("port").and_then(|p| p.parse().ok())) else {
            return Err("REPLICAS entry without ip or port".into());
        };
        out.push((ip, port));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::BulkString(s.as_bytes().to_vec())
    }

    fn replica(ip: &str, port: &str, flags: &str) -> Reply {
        Reply::Array(
            [
                "name", "x", "ip", ip, "port", port, "runid", "r", "flags", flags,
            ]
            .iter()
            .map(|s| bulk(s))
            .collect(),
        )
    }

    #[test]
    fn master_address() {
        let v = Reply::Array(vec![bulk("127.0.0.1"), bulk("6380")]);
        assert_eq!(
            parse_master_addr(&v).unwrap(),
            Some(("127.0.0.1".into(), 6380))
        );
        assert_eq!(parse_master_addr(&Reply::Nil).unwrap(), None);
        assert!(parse_master_addr(&Reply::Int(1)).is_err());
    }

    #[test]
    fn replicas_down_ones_left_out() {
        let v = Reply::Array(vec![
            replica("10.0.0.2", "6379", "slave"),
            replica("10.0.0.3", "6379", "s_down,slave,disconnected"),
            replica("10.0.0.4", "6380", "slave"),
        ]);
        assert_eq!(
            parse_replicas(&v).unwrap(),
            vec![("10.0.0.2".into(), 6379), ("10.0.0.4".into(), 6380)]
        );
        assert_eq!(parse_replicas(&Reply::Array(vec![])).unwrap(), vec![]);
        assert!(parse_replicas(&Reply::Array(vec![replica("h", "x", "slave")])).is_err());
    }
}
