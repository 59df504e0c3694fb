# Time compression for the end-to-end test and the demo: the shipped rules and Alertmanager
# config with every minute turned into a second, so minutes of behaviour take seconds.
# Expressions, thresholds and routing stay as shipped. Apply with:
#   sed -E -f alerts/fast.sed alerts/redis-cache-health.rules.yml
#   sed -E -f alerts/fast.sed alerts/alertmanager.yml
# Range windows and offsets: [5m] -> [5s], offset 5m -> offset 5s.
s/\[([0-9]+)m\]/[\1s]/g
s/offset ([0-9]+)m\b/offset \1s/g
# Pending durations and Alertmanager's group interval: for: 15m -> for: 15s.
s/^(\s*(for|group_interval): [0-9]+)m$/\1s/
# Warm-up after a restart: 600 s -> 10 s.
s/redis_uptime_in_seconds > 600/redis_uptime_in_seconds > 10/
# Wait before a group's first notification: 30 s -> 1 s.
s/^(\s*group_wait: )30s$/\11s/
