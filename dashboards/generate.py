#!/usr/bin/env python3
"""Generates the Grafana dashboards shipped in dashboards/ (owns their panels and queries).

    python3 dashboards/generate.py           # rewrite dashboards/*.json
    python3 dashboards/generate.py --check   # exit 1 if a committed file differs from the output

The JSON files are committed so Grafana can provision them directly; this script is the one
place where panels are written, so every panel gets the same datasource, variables, units and
description conventions. tests/dashboards.rs checks that the committed files equal its output.
Standard library only.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

OVERVIEW_UID = "redis-cache-overview"
INSTANCE_UID = "redis-cache-instance"
OVERVIEW_URL = f"/d/{OVERVIEW_UID}/redis-cache-health-overview"
INSTANCE_URL = f"/d/{INSTANCE_UID}/redis-cache-health-instance"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Every selector carries both filters; with "All" they expand to ".*".
SEL = 'job=~"$job", target=~"$target"'

# Hit rate guidance from the design notes: a cache should stay above 90 %.
HIT_RATIO_GOAL = 0.9


def sel(metric, extra=""):
    """A selector for `metric` filtered by the dashboard variables, plus extra matchers."""
    more = f", {extra}" if extra else ""
    return f"{metric}{{{SEL}{more}}}"


def eq(label, value):
    """An equality matcher, e.g. eq("cache", "true") -> cache="true"."""
    return f'{label}="{value}"'


def rate(metric, extra=""):
    """Per-second rate of a counter over Grafana's $__rate_interval."""
    return f"rate({sel(metric, extra)}[$__rate_interval])"


def app_rate(kind, by=None):
    """Hits or misses (`kind`) per second caused by the application, per target or summed.

    The exporter's opt-in key-prefix sampler reads TTLs, which Redis counts as lookups: its own
    counters are subtracted per target where they exist (`or ... * 0` keeps targets without a
    sampler), as the recording rules do.
    """
    raw = f"sum by (target) ({rate(f'redis_keyspace_{kind}_total')})"
    own = f"sum by (target) ({rate(f'redis_sampler_keyspace_{kind}_total')})"
    per_target = f"({raw} - ({own} or {raw} * 0))"
    return per_target if by == "target" else f"sum({per_target})"


def hit_ratio(by=None):
    """hits / (hits + misses) summed over targets before dividing (never an average of ratios).

    The `> 0` drops windows without lookups, so an idle cache has no ratio instead of NaN.
    """
    hits, misses = app_rate("hits", by), app_rate("misses", by)
    return f"{hits}\n/\n({hits} + {misses} > 0)"


def fleet_hit_ratio():
    """Fleet hit ratio over the targets configured as caches (`cache = true`)."""
    only_caches = f'and on(target) {sel("redis_target_info", eq("cache", "true"))}'
    hits = f"sum({app_rate('hits', 'target')} {only_caches})"
    misses = f"sum({app_rate('misses', 'target')} {only_caches})"
    return f"{hits}\n/\n({hits} + {misses} > 0)"


def lookups(by=None):
    return f"{app_rate('hits', by)}\n+\n{app_rate('misses', by)}"


def query(expr, legend="__auto", ref="A", instant=False, table=False):
    q = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        q["format"] = "table"
    return q


def thresholds(*steps):
    """Absolute thresholds: steps as (value, color), the first value being None (base)."""
    return {
        "mode": "absolute",
        "steps": [{"color": c, "value": v} for v, c in steps],
    }


NEUTRAL = thresholds((None, "green"))
HIT_STEPS = thresholds((None, "red"), (HIT_RATIO_GOAL, "green"))
PRESSURE_STEPS = thresholds((None, "green"), (0.85, "orange"), (0.95, "red"))


def override(matcher, options, **props):
    return {
        "matcher": {"id": matcher, "options": options},
        "properties": [{"id": k.replace("__", "."), "value": v} for k, v in props.items()],
    }


def value_map(*pairs):
    """Value mappings: (value, text, color)."""
    return [
        {
            "type": "value",
            "options": {
                str(v): {"text": t, "color": c, "index": i} for i, (v, t, c) in enumerate(pairs)
            },
        }
    ]


UP_MAP = value_map((0, "DOWN", "red"), (1, "up", "green"))


def panel(kind, title, description, targets, unit, **extra):
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    p.update(extra)
    return p


def timeseries(
    title,
    description,
    targets,
    unit,
    *,
    steps=NEUTRAL,
    threshold_line=False,
    min_=None,
    max_=None,
    overrides=(),
    decimals=None,
    mappings=None,
    draw="line",
):
    p = panel("timeseries", title, description, targets, unit)
    defaults = p["fieldConfig"]["defaults"]
    defaults["color"] = {"mode": "palette-classic"}
    defaults["custom"] = {
        "drawStyle": draw,
        "lineInterpolation": "linear" if draw == "line" else "stepAfter",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisPlacement": "auto",
        "stacking": {"mode": "none", "group": "A"},
        "thresholdsStyle": {"mode": "dashed" if threshold_line else "off"},
    }
    defaults["thresholds"] = steps
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if decimals is not None:
        defaults["decimals"] = decimals
    if mappings:
        defaults["mappings"] = mappings
    p["fieldConfig"]["overrides"] = list(overrides)
    p["options"] = {
        "legend": {
            "displayMode": "table",
            "placement": "bottom",
            "showLegend": True,
            "calcs": ["lastNotNull", "max"],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return p


def stat(title, description, targets, unit, *, steps=NEUTRAL, color="value", text="auto", mappings=None, decimals=None):
    p = panel("stat", title, description, targets, unit)
    defaults = p["fieldConfig"]["defaults"]
    defaults["color"] = {"mode": "thresholds"}
    defaults["thresholds"] = steps
    if mappings:
        defaults["mappings"] = mappings
    if decimals is not None:
        defaults["decimals"] = decimals
    p["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": color,
        "graphMode": "none",
        "textMode": text,
        "justifyMode": "auto",
        "orientation": "auto",
        "showPercentChange": False,
        "wideLayout": True,
    }
    return p


def row(title, collapsed=False, panels=None):
    return {
        "type": "row",
        "title": title,
        "collapsed": collapsed,
        "panels": panels or [],
    }


class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self):
        self.panels = []
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0

    def _id(self, p):
        p["id"] = self.next_id
        self.next_id += 1

    def _newline(self):
        self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def add(self, p, w, h, into=None):
        if self.x + w > 24:
            self._newline()
        self._id(p)
        p["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        (into if into is not None else self.panels).append(p)
        return p

    def row(self, title, collapsed=False):
        if self.x:
            self._newline()
        r = row(title, collapsed)
        self._id(r)
        r["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": self.y}
        self.panels.append(r)
        self.y += 1
        return r


def variables():
    def query_var(name, label, expr):
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "definition": expr,
            "query": {
                "qryType": 1,
                "query": expr,
                "refId": "PrometheusVariableQueryEditor-VariableQuery",
            },
            "refresh": 2,
            "regex": "",
            "sort": 1,
            "multi": True,
            "includeAll": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [],
            "hide": 0,
        }

    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "regex": "",
                "refresh": 1,
                "current": {},
                "options": [],
                "hide": 0,
            },
            query_var("job", "Job", "label_values(redis_up, job)"),
            query_var("target", "Target", 'label_values(redis_up{job=~"$job"}, target)'),
        ]
    }


def dashboard(uid, title, description, panels, links):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["redis", "cache", "redis-cache-exporter"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "id": None,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": links,
        "templating": variables(),
        "panels": panels,
    }


def link(title, url, tooltip):
    return {
        "title": title,
        "type": "link",
        "url": url,
        "tooltip": tooltip,
        "icon": "dashboard",
        "includeVars": True,
        "keepTime": True,
        "asDropdown": False,
        "targetBlank": False,
        "tags": [],
    }


# ---------------------------------------------------------------------------------------------
# Builders both dashboards use
# ---------------------------------------------------------------------------------------------

UP_STEPS = thresholds((None, "red"), (1, "green"))


def max_by(metric, by="target"):
    """One series per `by` labels of a gauge (several jobs scraping one target agree)."""
    return f"max by ({by}) ({sel(metric)})"


def per_target_rate(metric, extra=""):
    return f"sum by (target) ({rate(metric, extra)})"


def in_red(pattern, **props):
    """An override drawing the series whose name matches `pattern` in red, plus `props`."""
    return override("byRegexp", pattern, color={"mode": "fixed", "fixedColor": "red"}, **props)


def hit_ratio_over_time(title, description, targets):
    """Hit ratios against the 90 % line (dashed), on a 0–1 axis."""
    return timeseries(
        title,
        description,
        targets,
        "percentunit",
        steps=HIT_STEPS,
        threshold_line=True,
        min_=0,
        max_=1,
    )


def memory_pressure_over_time(title, description):
    """Memory pressure per target and limit (maxmemory or system), 85 % and 95 % lines."""
    return timeseries(
        title,
        description,
        [query(max_by("redis_memory_pressure_ratio", "target, limit"), "{{target}} ({{limit}})")],
        "percentunit",
        steps=PRESSURE_STEPS,
        threshold_line=True,
        min_=0,
    )


# ---------------------------------------------------------------------------------------------
# Fleet overview
# ---------------------------------------------------------------------------------------------


def overview():
    L = Layout()
    fleet_cache_stats(L)
    fleet_up_stats(L)
    firing_alerts(L)
    targets_table(L)
    fleet_miss_causes(L)
    per_target_trends(L)
    return dashboard(
        OVERVIEW_UID,
        "Redis cache health: overview",
        "Which Redis caches are not earning their keep, and why. Data from redis-cache-exporter.",
        L.panels,
        [
            link(
                "Instance",
                INSTANCE_URL,
                "Per-instance cache health for the selected targets",
            )
        ],
    )


def fleet_cache_stats(L):
    """Is the fleet as a whole earning its keep: hit ratio, lookups and evictions now."""
    L.add(
        stat(
            "Fleet hit ratio",
            "Hits / (hits + misses) summed over every selected target configured as a cache "
            "(cache = true), over the rate interval; a sum of counts, never an average of "
            "ratios, so busy caches weigh more. Below 90 % (red) the fleet is not earning its "
            "keep: sort the table below by hit ratio and open the worst target.",
            [query(fleet_hit_ratio(), "fleet")],
            "percentunit",
            steps=HIT_STEPS,
            decimals=1,
        ),
        6,
        4,
    )
    L.add(
        stat(
            "Fleet lookups/s",
            "Keyspace lookups (hits + misses) per second over all selected targets. A sudden "
            "drop usually means clients stopped using the cache (deploy, failover, network); a "
            "sudden rise with a falling hit ratio means a new access pattern that misses.",
            [query(lookups(), "lookups/s")],
            "ops",
            color="none",
        ),
        5,
        4,
    )
    L.add(
        stat(
            "Fleet evictions/s",
            "Keys evicted per second over all selected targets because maxmemory was reached. "
            "Steady or rising evictions mean the working set does not fit: give the caches more "
            "memory or shorten TTLs of rarely read keys. The table shows which target evicts.",
            [query(f"sum({rate('redis_evicted_keys_total')})", "evictions/s")],
            "ops",
            color="none",
        ),
        5,
        4,
    )


def fleet_up_stats(L):
    """Can the exporter poll every selected target: counts of targets up and down."""

    def targets_whose_up_is(value):
        return f"count(min by (target) ({sel('redis_up')}) == {value}) or vector(0)"

    L.add(
        stat(
            "Targets up",
            "Selected targets whose last poll by the exporter succeeded (redis_up = 1). If this "
            "is lower than expected, check the Targets down panel and the Up column below.",
            [query(targets_whose_up_is(1), "up")],
            "short",
            steps=NEUTRAL,
        ),
        4,
        4,
    )
    L.add(
        stat(
            "Targets down",
            "Selected targets the exporter cannot poll (redis_up = 0). Anything above 0 is red: "
            "open the instance dashboard of the target with Up = DOWN and read the Exporter row "
            "(error kind: connect, timeout, auth, protocol, command), then check the server.",
            [query(targets_whose_up_is(0), "down")],
            "short",
            steps=thresholds((None, "green"), (1, "red")),
        ),
        4,
        4,
    )


def firing_alerts(L):
    """Which shipped alerts fire now, and for which target."""
    alerts = panel(
        "table",
        "Firing alerts",
        "Alerts from the shipped rules (names starting with Redis) that are firing now for the "
        "selected targets. Each alert's annotations say what to do; open the instance "
        "dashboard of the target it names. Empty means nothing is firing (or no rules are "
        "loaded into this Prometheus).",
        [
            query(
                'ALERTS{alertname=~"Redis.*", alertstate="firing", target=~"$target"}',
                ref="A",
                instant=True,
                table=True,
            )
        ],
        "short",
    )
    alerts["fieldConfig"]["defaults"]["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    alerts["options"] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    alerts["transformations"] = [
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True},
                "indexByName": {"alertname": 0, "target": 1, "severity": 2},
                "renameByName": {},
            },
        }
    ]
    L.add(alerts, 24, 6)


def targets_table_columns():
    """(refId, column name, instant query) of the targets table; E only brings the policy label."""
    return [
        ("A", "Hit ratio", hit_ratio("target")),
        ("B", "Lookups/s", lookups("target")),
        ("C", "Evictions/s", per_target_rate("redis_evicted_keys_total")),
        ("D", "Memory pressure", max_by("redis_memory_pressure_ratio")),
        ("E", None, max_by("redis_maxmemory_policy_info", "target, policy")),
        ("F", "No maxmemory", f"max by (target) ({sel('redis_memory_max_bytes')} == bool 0)"),
        (
            "G",
            "noeviction on cache",
            "max by (target) (\n"
            f"  ({sel('redis_maxmemory_policy_info', eq('policy', 'noeviction'))}"
            f" and on(target) {sel('redis_target_info', eq('cache', 'true'))})\n"
            f"  or\n  {sel('redis_maxmemory_policy_info')} * 0\n)",
        ),
        ("H", "Up", f"min by (target) ({sel('redis_up')})"),
    ]


def percent_column(name, steps):
    """A table column of 0-1 ratios shown as percentages, its text coloured by `steps`."""
    return override(
        "byName",
        name,
        unit="percentunit",
        decimals=1,
        thresholds=steps,
        custom__cellOptions={"type": "color-text"},
    )


def targets_table_overrides():
    """Per-column units, colours and value texts of the targets table; Target links to its
    instance dashboard."""
    return [
        override(
            "byName",
            "Target",
            links=[
                {
                    "title": "Instance dashboard for ${__value.raw}",
                    "url": INSTANCE_URL
                    + "?${datasource:queryparam}&${job:queryparam}&var-target=${__value.raw}"
                    + "&${__url_time_range}",
                }
            ],
        ),
        override(
            "byName",
            "Hit ratio",
            unit="percentunit",
            decimals=1,
            min=0,
            max=1,
            thresholds=HIT_STEPS,
            custom__cellOptions={"type": "color-background", "mode": "basic"},
        ),
        override("byName", "Lookups/s", unit="ops"),
        override("byName", "Evictions/s", unit="ops"),
        percent_column("Memory pressure", PRESSURE_STEPS),
        override(
            "byName",
            "No maxmemory",
            mappings=value_map((0, "ok", "green"), (1, "NOT SET", "red")),
            custom__cellOptions={"type": "color-text"},
        ),
        override(
            "byName",
            "noeviction on cache",
            mappings=value_map((0, "ok", "green"), (1, "NOEVICTION", "red")),
            custom__cellOptions={"type": "color-text"},
        ),
        override(
            "byName",
            "Up",
            mappings=UP_MAP,
            custom__cellOptions={"type": "color-background", "mode": "basic"},
        ),
    ]


def merged_worst_first(table, index, rename, hidden):
    """Makes `table` (instant queries) one row per target: rows merged on their labels,
    columns ordered and renamed, the `hidden` column (a query that only brings a label) and
    Time left out, lowest hit ratio first."""
    table["transformations"] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True, hidden: True},
                "indexByName": index,
                "renameByName": rename,
            },
        },
        {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": "Hit ratio", "desc": False}]}},
    ]
    table["options"] = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"], "fields": ""},
        "sortBy": [{"displayName": "Hit ratio", "desc": False}],
    }


def targets_table(L):
    """Which target is worst, and what is wrong with it: one row per target, several instant
    queries merged on the `target` column, sorted by hit ratio."""
    cols = targets_table_columns()
    table = panel(
        "table",
        "Targets, worst hit ratio first",
        "One row per target. Hit ratio is red below 90 %: a low ratio with high Evictions/s "
        "means the cache is too small (raise maxmemory); a low ratio without evictions means "
        "TTLs are too short or clients read keys that were never written (check expired keys "
        "on the instance dashboard). Memory pressure near 100 % precedes evictions. "
        "No maxmemory = NOT SET: the cache can grow until the host runs out of memory; set "
        "maxmemory. noeviction on cache = NOEVICTION: writes will fail once full; use an "
        "evicting policy such as allkeys-lru. Click a target to open its instance dashboard.",
        [query(expr, ref=ref, instant=True, table=True) for ref, _, expr in cols],
        "short",
    )
    rename = {"target": "Target", "policy": "Maxmemory policy"}
    index = {"target": 0}
    for i, (ref, name, _) in enumerate(cols, start=1):
        if name:
            rename[f"Value #{ref}"] = name
            index[f"Value #{ref}"] = i
    index["policy"] = 5
    merged_worst_first(table, index, rename, hidden="Value #E")
    table["fieldConfig"]["defaults"]["custom"] = {
        "align": "auto",
        "cellOptions": {"type": "auto"},
        "filterable": True,
    }
    table["fieldConfig"]["defaults"]["thresholds"] = NEUTRAL
    table["fieldConfig"]["overrides"] = targets_table_overrides()
    L.add(table, 24, 10)


def per_target_trends(L):
    """When did a target go wrong: hit ratio, evictions, memory pressure and lookups over time."""
    L.add(
        hit_ratio_over_time(
            "Hit ratio per target",
            "Hit ratio of each target over time against the 90 % line, with the fleet ratio of "
            "all cache targets. A target that dropped below the line at a given moment points "
            "to a deploy, a flush or a restart then; one that was always low needs a larger "
            "maxmemory or longer TTLs (see its instance dashboard).",
            [
                query(hit_ratio("target"), "{{target}}", "A"),
                query(fleet_hit_ratio(), "fleet (caches)", "B"),
            ],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Evictions/s per target",
            "Keys evicted per second by each target. Evictions on an allkeys-lru cache are "
            "normal in small numbers; a target that evicts continuously while its hit ratio "
            "falls needs more memory (maxmemory) or fewer/shorter-lived keys.",
            [query(per_target_rate("redis_evicted_keys_total"), "{{target}}")],
            "ops",
        ),
        12,
        8,
    )
    L.add(
        memory_pressure_over_time(
            "Memory pressure per target",
            "Memory Redis counts for eviction divided by maxmemory (limit=maxmemory), or by the "
            "host's memory when maxmemory is 0 (limit=system). Near 100 % of maxmemory the "
            "target evicts (or rejects writes with noeviction); near 100 % of system memory it "
            "risks the OOM killer: set maxmemory.",
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Lookups/s per target",
            "Hits + misses per second by target: how much each cache is used. A target with "
            "almost no lookups but lots of memory may not be needed; a target whose lookups "
            "dropped to zero lost its clients.",
            [query(lookups("target"), "{{target}}")],
            "ops",
        ),
        12,
        8,
    )


# ---------------------------------------------------------------------------------------------
# Instance
# ---------------------------------------------------------------------------------------------


def instance():
    L = Layout()
    status_row(L)
    hit_rate_row(L)
    missing_keys_row(L)
    miss_causes_row(L)
    memory_sizing_row(L)
    memory_row(L)
    saturation_row(L)
    clients_and_commands_row(L)
    exporter_row(L)
    return dashboard(
        INSTANCE_UID,
        "Redis cache health: instance",
        "Why one Redis cache misses: hit rate, evictions vs expirations, memory, commands and "
        "the exporter's own polling. Data from redis-cache-exporter.",
        L.panels,
        [link("Overview", OVERVIEW_URL, "Fleet overview of all caches")],
    )


def info_stat(title, description, metric, labels, legend):
    """A stat showing the labels of an `*_info` metric as text."""
    return stat(
        title,
        description,
        [query(max_by(metric, f"target, {labels}"), legend)],
        "none",
        color="none",
        text="name",
    )


def status_row(L):
    """Is the target up, is it earning its keep, and what is it (uptime, policy, server)."""
    L.row("Status")
    L.add(
        stat(
            "Up",
            "Whether the exporter's last poll of the target succeeded. DOWN: read the Exporter "
            "row for the error kind, then check that the server runs, listens on the configured "
            "address and accepts the configured credentials.",
            [query(f"min by (target) ({sel('redis_up')})", "{{target}}")],
            "none",
            color="background",
            mappings=UP_MAP,
            steps=UP_STEPS,
        ),
        4,
        4,
    )
    L.add(
        stat(
            "Hit ratio",
            "Hits / (hits + misses) now. Below 90 % (red) the cache is not earning its keep: "
            "compare evicted and expired keys below to see whether memory or TTLs are the cause.",
            [query(hit_ratio("target"), "{{target}}")],
            "percentunit",
            steps=HIT_STEPS,
            decimals=1,
        ),
        5,
        4,
    )
    L.add(
        stat(
            "Uptime",
            "Time since the Redis server started. A short uptime explains an empty cache and a "
            "low hit ratio right after a restart; repeated restarts need the server's log.",
            [query(f"min by (target) ({sel('redis_uptime_in_seconds')})", "{{target}}")],
            "s",
            color="none",
        ),
        5,
        4,
    )
    L.add(
        info_stat(
            "Maxmemory policy",
            "The server's maxmemory-policy. A cache should use an evicting policy "
            "(allkeys-lru, allkeys-lfu, volatile-*); with noeviction, writes fail with OOM "
            "errors once maxmemory is reached: CONFIG SET maxmemory-policy allkeys-lru.",
            "redis_maxmemory_policy_info",
            "policy",
            "{{target}}: {{policy}}",
        ),
        5,
        4,
    )
    L.add(
        info_stat(
            "Server",
            "Server kind (redis or valkey), version and replication role. A role change "
            "means a failover happened: the new primary starts with a cold cache.",
            "redis_instance_info",
            "server, redis_version, role",
            "{{target}}: {{server}} {{redis_version}} ({{role}})",
        ),
        5,
        4,
    )


def hit_rate_row(L):
    """Is the cache earning its keep over time, and are misses rising or hits falling."""
    L.row("Hit rate")
    L.add(
        hit_ratio_over_time(
            "Hit ratio over time",
            "Hits / (hits + misses) per rate interval against the 90 % line (dashed). Time "
            "below the line: look at the same moment in Evicted vs expired keys. Evictions "
            "then mean the cache is too small; expirations mean TTLs are too short; neither "
            "means clients read keys that were never cached (cold start, new key pattern).",
            [query(hit_ratio("target"), "{{target}}")],
        ),
        12,
        8,
    )
    L.add(
        timeseries(
            "Hits vs misses /s",
            "Successful and failed key lookups per second. Misses rising with constant hits "
            "means a new access pattern or shortened TTLs; both falling means fewer clients. "
            "If misses dominate, check TTLs and evictions below.",
            [
                query(app_rate("hits", "target"), "{{target}} hits", "A"),
                query(app_rate("misses", "target"), "{{target}} misses", "B"),
            ],
            "ops",
            overrides=[in_red("/misses$/")],
        ),
        12,
        8,
    )


def missing_keys_row(L):
    """Why keys go missing: evicted (memory) or expired (TTLs), and how keys carry TTLs."""
    L.row("Why keys go missing: evictions, expirations, TTLs")
    L.add(
        timeseries(
            "Evicted vs expired keys /s",
            "Keys removed because memory was full (evicted) versus because their TTL ran out "
            "(expired). Evicted dominating during a low hit ratio: raise maxmemory or store "
            "less. Expired dominating: TTLs are shorter than the reuse interval, lengthen them.",
            [
                query(per_target_rate("redis_evicted_keys_total"), "{{target}} evicted", "A"),
                query(per_target_rate("redis_expired_keys_total"), "{{target}} expired", "B"),
            ],
            "ops",
            overrides=[in_red("/evicted$/")],
        ),
        6,
        8,
    )
    L.add(
        timeseries(
            "Keys per db",
            "Keys in each logical database and how many of them carry a TTL. Keys growing "
            "without bound on a cache mean entries without TTL; a sudden drop to zero means a "
            "FLUSHALL/FLUSHDB or a restart.",
            [
                query(max_by("redis_db_keys", "target, db"), "{{target}} {{db}} keys", "A"),
                query(
                    max_by("redis_db_keys_expiring", "target, db"),
                    "{{target}} {{db}} with TTL",
                    "B",
                ),
            ],
            "short",
        ),
        6,
        8,
    )
    L.add(
        timeseries(
            "TTL coverage per db",
            "Share of keys that have a TTL (keys_expiring / keys). On a cache with a volatile-* "
            "policy only keys with a TTL can be evicted, so low coverage there leads to OOM "
            "errors; on any cache, keys without TTL never leave except by eviction. Add TTLs "
            "where the client writes keys.",
            [
                query(
                    f"{max_by('redis_db_keys_expiring', 'target, db')}\n/\n"
                    f"({max_by('redis_db_keys', 'target, db')} > 0)",
                    "{{target}} {{db}}",
                )
            ],
            "percentunit",
            min_=0,
            max_=1,
        ),
        6,
        8,
    )
    L.add(
        timeseries(
            "Average TTL per db",
            "Average remaining TTL of keys that have one, as Redis estimates it. If it is "
            "shorter than the typical time between two reads of a key, those reads miss: "
            "lengthen TTLs.",
            [query(max_by("redis_db_avg_ttl_seconds", "target, db"), "{{target}} {{db}}")],
            "s",
        ),
        6,
        8,
    )


def memory_row(L):
    """Is memory under control: used against maxmemory, pressure, fragmentation."""
    L.row("Memory")
    L.add(
        timeseries(
            "Memory used vs maxmemory",
            "Memory allocated by Redis (used), resident in RAM (rss), and the maxmemory limit "
            "(dashed; absent when maxmemory is 0). Used reaching maxmemory starts evictions; "
            "with no maxmemory, growth ends in the OOM killer: set one.",
            [
                query(max_by("redis_memory_used_bytes"), "{{target}} used", "A"),
                query(max_by("redis_memory_used_rss_bytes"), "{{target}} rss", "B"),
                query(f"{max_by('redis_memory_max_bytes')} > 0", "{{target}} maxmemory", "C"),
            ],
            "bytes",
            min_=0,
            overrides=[
                in_red(
                    "/maxmemory$/",
                    custom__lineStyle={"fill": "dash", "dash": [10, 10]},
                    custom__fillOpacity=0,
                )
            ],
        ),
        8,
        8,
    )
    L.add(
        memory_pressure_over_time(
            "Memory pressure",
            "Memory counted for eviction / maxmemory (limit=maxmemory) or / host memory when "
            "maxmemory is 0 (limit=system). Above 85 % (orange) plan more memory; at 100 % of "
            "maxmemory the server evicts or, with noeviction, rejects writes.",
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "Fragmentation ratio",
            "RSS / used memory. Above 1.5 (orange) memory is lost to fragmentation: enable "
            "activedefrag or restart the replica first; below 1 the host is swapping Redis "
            "memory, which makes every command slow: add RAM or lower maxmemory.",
            [query(max_by("redis_mem_fragmentation_ratio"), "{{target}}")],
            "none",
            steps=thresholds((None, "green"), (1.5, "orange")),
            threshold_line=True,
            decimals=2,
        ),
        8,
        8,
    )


def saturation_row(L):
    """Healthy beyond the hit ratio: the main thread's CPU, eviction keeping up, refused writes,
    replicas keeping up."""
    L.row("Saturation, errors and replication")
    main_thread_cpu(L)
    eviction_exceeded(L)
    errors_by_kind(L)
    replication_row(L)


def main_thread_cpu(L):
    """The one thread that runs commands: at 1 s/s the cache is saturated, whatever it hits."""
    main = " + ".join(
        per_target_rate(f"redis_cpu_{k}_main_thread_seconds_total") for k in ("sys", "user")
    )
    children = " + ".join(
        per_target_rate(f"redis_cpu_{k}_children_seconds_total") for k in ("sys", "user")
    )
    L.add(
        timeseries(
            "Main thread CPU",
            "CPU seconds per second of the thread that runs every command (system + user; "
            "1 s/s = the thread is never idle), and of background children (RDB saves, AOF "
            "rewrites). Above 0.8 (orange) latency climbs for every client however good the "
            "hit ratio is: find the costly commands below, spread the load over shards or "
            "replicas, or enable io-threads.",
            [query(main, "{{target}} main thread", "A"), query(children, "{{target}} children", "B")],
            "s",
            steps=thresholds((None, "green"), (0.8, "orange"), (0.95, "red")),
            threshold_line=True,
            min_=0,
        ),
        8,
        8,
    )


def eviction_exceeded(L):
    """Eviction not keeping up with writes: time spent over maxmemory (Redis 7+)."""
    L.add(
        timeseries(
            "Eviction not keeping up",
            "Share of time used memory was over maxmemory (seconds per second), and how long "
            "the current spell has lasted. Redis evicts in small steps per command; a steady "
            "share above 0 means writes outpace eviction: memory grows past the limit until "
            "the OOM killer or noeviction errors. Give it more memory or raise "
            "maxmemory-eviction-tenacity.",
            [
                query(per_target_rate("redis_eviction_exceeded_seconds_total"), "{{target}} share of time", "A"),
                query(max_by("redis_current_eviction_exceeded_seconds"), "{{target}} current spell", "B"),
            ],
            "s",
            min_=0,
        ),
        8,
        8,
    )


def errors_by_kind(L):
    """Error replies by kind; OOM (writes refused at maxmemory under noeviction) in red."""
    L.add(
        timeseries(
            "Error replies/s by kind",
            "Error replies per second by their first word (INFO errorstats, read once a "
            "minute). OOM (red) is a write refused because memory is full under noeviction: "
            "the application's writes fail, so set an evicting policy on a cache. WRONGTYPE "
            "or ERR point at client bugs.",
            [query(f"sum by (target, err) ({rate('redis_errors_total')})", "{{err}} ({{target}})")],
            "ops",
            overrides=[in_red("/^OOM /", custom__lineWidth=3)],
        ),
        8,
        8,
    )


def replication_row(L):
    """Is each replica keeping up with its master (replica lag as the master sees it)."""
    L.add(
        timeseries(
            "Replication lag",
            "On a master: seconds since each replica last acknowledged (normally 0-1). On a "
            "replica: seconds since it last heard from its master (-1 before the first "
            "contact). Rising lag means reads from that replica serve stale or missing keys: "
            "check its link (redis_master_link_up) and the network.",
            [
                query(
                    max_by("redis_connected_slave_lag_seconds", "target, slave_ip, slave_port"),
                    "{{target}} → {{slave_ip}}:{{slave_port}}",
                    "A",
                ),
                query(max_by("redis_master_last_io_seconds_ago"), "{{target}} last I/O with master", "B"),
            ],
            "s",
            steps=thresholds((None, "green"), (10, "orange")),
            threshold_line=True,
        ),
        24,
        8,
    )


def clients_and_commands_row(L):
    """Who talks to the server and how (clients, KEYS calls), then what the commands cost."""
    L.row("Clients and commands")
    L.add(
        timeseries(
            "Clients",
            "Connected and blocked clients. A climb in connections means a client leaks "
            "connections or lost its pool; blocked clients wait in BLPOP-style commands, "
            "which a pure cache should not have.",
            [
                query(max_by("redis_connected_clients"), "{{target}} connected", "A"),
                query(max_by("redis_blocked_clients"), "{{target}} blocked", "B"),
            ],
            "short",
        ),
        8,
        8,
    )
    L.add(
        timeseries(
            "KEYS calls/s",
            "KEYS walks the whole keyspace and blocks the server while it runs; any non-zero "
            "rate on a production cache is a finding. Find the client (CLIENT LIST, "
            "MONITOR briefly, or the slowlog) and replace KEYS with SCAN.",
            [
                query(
                    per_target_rate("redis_commands_total", eq("cmd", "keys")),
                    "{{target}} KEYS/s",
                )
            ],
            "ops",
            overrides=[in_red("/KEYS/")],
        ),
        8,
        8,
    )
    command_costs(L)


def command_costs(L):
    """Which commands the server spends its one thread on: latency, calls and time, top 10."""

    def top_commands(title, description, expr, unit):
        """One series per command (legend `cmd (target)`), KEYS drawn thick and red."""
        return timeseries(
            title,
            description,
            [query(expr, "{{cmd}} ({{target}})")],
            unit,
            overrides=[in_red("/^keys /", custom__lineWidth=3)],
        )

    calls = f"sum by (target, cmd) ({rate('redis_commands_total')})"
    time_in = f"sum by (target, cmd) ({rate('redis_commands_duration_seconds_total')})"
    L.add(
        top_commands(
            "Average latency by command",
            "Server-side time per call (usec_per_call) for the 10 slowest commands. KEYS (red) "
            "or other O(N) commands on top, or a jump of GET/SET latency, means big values or "
            "expensive commands: check SLOWLOG GET.",
            f"topk(10,\n  {time_in}\n  /\n  ({calls} > 0)\n)",
            "s",
        ),
        8,
        8,
    )
    L.add(
        top_commands(
            "Commands/s by command",
            "Calls per second of the 10 busiest commands. A cache should be dominated by reads "
            "(get, mget, hget); a surge of writes or of an unexpected command explains changes "
            "in hit ratio and memory. KEYS is drawn in red.",
            f"topk(10, {calls})",
            "ops",
        ),
        12,
        8,
    )
    L.add(
        top_commands(
            "Time in commands by command",
            "Seconds of server time spent per second in each of the 10 most expensive commands "
            "(1 s/s = one core fully busy; Redis runs commands on one thread). KEYS is drawn in "
            "red: if it shows up here, every other client waited for it; replace it with SCAN.",
            f"topk(10, {time_in})",
            "s",
        ),
        12,
        8,
    )


def exporter_row(L):
    """Is the exporter's polling of the target healthy, and are its numbers fresh (collapsed)."""
    exporter = L.row("Exporter poll health", collapsed=True)
    L.add(
        timeseries(
            "Poll success (redis_up)",
            "1 when the exporter's last poll of the target succeeded, 0 (DOWN) when it failed. "
            "Gaps to 0 line up with the errors panel; a target stuck at 0 is unreachable.",
            [query(f"min by (target) ({sel('redis_up')})", "{{target}}")],
            "none",
            min_=0,
            max_=1,
            mappings=UP_MAP,
            draw="line",
            steps=UP_STEPS,
        ),
        6,
        8,
        into=exporter["panels"],
    )
    L.add(
        timeseries(
            "Poll duration",
            "How long the last INFO poll took. Close to the configured timeout means the "
            "server or the network is slow (a long-running command such as KEYS blocks INFO "
            "too); raise the timeout only after finding why.",
            [query(max_by("redis_exporter_last_poll_duration_seconds"), "{{target}}")],
            "s",
            min_=0,
        ),
        6,
        8,
        into=exporter["panels"],
    )
    L.add(
        timeseries(
            "Poll errors/s by kind",
            "Failed polls per second by kind (connect, timeout, auth, protocol, command); the "
            "exporter reports every kind, so a healthy target shows flat zeros. connect: server "
            "down or wrong address; timeout: server blocked or overloaded; auth: wrong "
            "password/ACL; protocol or command: not a Redis server, or a command renamed or "
            "denied.",
            [
                query(
                    f"sum by (target, kind) ({rate('redis_exporter_poll_errors_total')})",
                    "{{target}} {{kind}}",
                )
            ],
            "ops",
            min_=0,
        ),
        6,
        8,
        into=exporter["panels"],
    )
    L.add(
        timeseries(
            "Time since last successful poll",
            "Age of the newest successful poll. It should stay near the poll interval; a "
            "growing line means the metrics shown for this target are stale.",
            [
                query(
                    f"time() - {max_by('redis_exporter_last_poll_success_timestamp_seconds')}",
                    "{{target}}",
                )
            ],
            "s",
            min_=0,
        ),
        6,
        8,
        into=exporter["panels"],
    )


# ---------------------------------------------------------------------------------------------
# Misses by measured cause (keyspace-event miss attribution, opt-in per target)
# ---------------------------------------------------------------------------------------------

# What a panel that needs attribution shows when none of the selected targets has it, instead
# of an empty graph.
ATTRIBUTION_OFF = (
    "attribution off: no selected target measures miss causes "
    "([targets.miss_attribution] enabled = true)"
)

# Measured causes and the ceiling (`without` label) that removes each; cold misses have none.
CAUSE_CEILINGS = (("evicted", "evictions"), ("expired", "expirations"), ("deleted", "deletions"))

ATTRIBUTION_MAP = value_map((0, "attribution off", "text"), (1, "measured", "green"))


def attributed_rate(by):
    """Attributed misses per second, summed by `by`."""
    return f"sum by ({by}) ({rate('redis_cache_misses_attributed_total')})"


def dominant_cause_share():
    """Per target, the cause with the largest share of the attributed misses (its `cause`
    label) and that share: sums per target and cause first, then divided."""
    per_cause = attributed_rate("target, cause")
    total = f"(sum by (target) ({per_cause}) > 0)"
    return f"topk by (target) (1,\n  {per_cause}\n  / on(target) group_left()\n  {total}\n)"


def ceiling_of_dominant_cause():
    """The hit ratio (5m) a target would reach without the misses of its dominant cause."""
    ceilings = "\n  or ".join(
        f'label_replace({sel("redis_cache_hit_ratio_ceiling", eq("window", "5m") + ", " + eq("without", without))}, '
        f'"cause", "{cause}", "", "")'
        for cause, without in CAUSE_CEILINGS
    )
    return f"max by (target) (\n  ({ceilings})\n  and on(target, cause)\n  {dominant_cause_share()}\n)"


def attribution_active():
    """1 where attribution is active, 0 for every other polled target (also before the
    exporter exports the flag at all), so the panels can say "attribution off"."""
    active = max_by("redis_exporter_miss_attribution_active")
    return f"{active}\nor\n{max_by('redis_up')} * 0"


# The exporter's estimated causes (redis_cache_miss_cause, from INFO counters).
ESTIMATED_CAUSES = ("evictions", "expirations", "neither")


def estimated_cause():
    """The exporter's estimate of the cause, as an `estimated_cause` label (written out per
    cause: a `$1` replacement would read as a Grafana variable), for targets without
    attribution."""
    return "\nor ".join(
        "label_replace(max by (target) "
        f"({sel('redis_cache_miss_cause', eq('window', '5m') + ', ' + eq('cause', c))} == 1), "
        f'"estimated_cause", "{c}", "", "")'
        for c in ESTIMATED_CAUSES
    )


def with_no_value(p, text=ATTRIBUTION_OFF):
    p["fieldConfig"]["defaults"]["noValue"] = text
    return p


def stacked(p):
    p["fieldConfig"]["defaults"]["custom"]["stacking"] = {"mode": "normal", "group": "A"}
    p["fieldConfig"]["defaults"]["custom"]["fillOpacity"] = 60
    return p


def fleet_miss_causes(L):
    """Why the fleet misses: misses by measured cause, and the worst caches with their
    dominant cause and the ceiling without it."""
    L.add(
        with_no_value(
            stacked(
                timeseries(
                    "Misses/s by cause (fleet)",
                    "Misses per second of the selected targets with miss attribution, stacked "
                    "by measured cause: evicted (the key was evicted earlier: more memory or an "
                    "LFU policy), expired (read after its TTL: longer TTLs), deleted (the "
                    "application deleted it: invalidate less), cold (never cached: key design). "
                    "Shows 'attribution off' when no selected target measures causes.",
                    [query(attributed_rate("cause"), "{{cause}}")],
                    "ops",
                )
            )
        ),
        8,
        9,
    )
    cols = [
        ("A", "Hit ratio", hit_ratio("target")),
        ("B", "Share of misses", dominant_cause_share()),
        ("C", "Ceiling without it", ceiling_of_dominant_cause()),
        ("D", "Attribution", attribution_active()),
        ("E", None, estimated_cause()),
    ]
    table = panel(
        "table",
        "Worst caches: dominant miss cause and ceiling",
        "One row per target, lowest hit ratio first. With miss attribution (Attribution = "
        "measured): the dominant measured cause, its share of the misses, and the hit ratio "
        "the cache would reach without those misses (5m); act on the cause with the highest "
        "ceiling (docs/runbooks.md, RedisCacheMissesDominatedByCause). Attribution off: the "
        "estimated cause from INFO's evicted and expired counters only.",
        [query(expr, ref=ref, instant=True, table=True) for ref, _, expr in cols],
        "short",
    )
    rename = {
        "target": "Target",
        "cause": "Dominant cause",
        "estimated_cause": "Estimated cause (no attribution)",
    }
    index = {"target": 0, "Value #A": 1, "cause": 2, "Value #B": 3, "Value #C": 4, "Value #D": 5}
    index["estimated_cause"] = 6
    for ref, name, _ in cols:
        if name:
            rename[f"Value #{ref}"] = name
    merged_worst_first(table, index, rename, hidden="Value #E")
    table["fieldConfig"]["defaults"]["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    table["fieldConfig"]["defaults"]["thresholds"] = NEUTRAL
    table["fieldConfig"]["overrides"] = [
        override(
            "byName",
            "Hit ratio",
            unit="percentunit",
            decimals=1,
            thresholds=HIT_STEPS,
            custom__cellOptions={"type": "color-background", "mode": "basic"},
        ),
        override("byName", "Share of misses", unit="percentunit", decimals=0),
        percent_column("Ceiling without it", HIT_STEPS),
        override("byName", "Attribution", mappings=ATTRIBUTION_MAP),
    ]
    L.add(table, 16, 9)


# Memory sizing (the ghost list of evicted keys, from the same keyspace events)
# ---------------------------------------------------------------------------------------------

SIZING_OFF = (
    "attribution off, or not predicted under this maxmemory-policy "
    "(see docs/memory-sizing.md)"
)


def memory_sizing_row(L):
    """How much memory for 90 %: the predicted hit ratio at 1.5x, 2x and 4x maxmemory beside
    the current one, and the smallest maxmemory predicted to reach 90 %."""
    L.row("How much memory: predicted hit ratio (memory sizing)")
    curve = panel(
        "bargauge",
        "Predicted hit ratio against memory",
        "The hit ratio (5m) now and the one the same traffic would have had with maxmemory "
        "at 1.5x, 2x and 4x its value, predicted from the misses on evicted keys (ghost "
        "list, docs/memory-sizing.md); the 90 % line is the threshold. Flat bars: more "
        "memory buys little, the remaining misses are cold, expired or deleted. A size "
        "missing: beyond what the ghost list covers. Empty without miss attribution or "
        "under a policy the prediction was not shown to hold for.",
        [
            query(hit_ratio("target"), "{{target}} now", "A", instant=True),
            query(
                "max by (target, memory) "
                f"({sel('redis_cache_predicted_hit_ratio', eq('window', '5m'))})",
                "{{target}} {{memory}}",
                "B",
                instant=True,
            ),
        ],
        "percentunit",
    )
    defaults = curve["fieldConfig"]["defaults"]
    defaults.update(
        {"min": 0, "max": 1, "decimals": 1, "thresholds": HIT_STEPS, "color": {"mode": "thresholds"}}
    )
    defaults["noValue"] = SIZING_OFF
    curve["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "vertical",
        "displayMode": "basic",
        "showUnfilled": True,
        "valueMode": "color",
        "namePlacement": "auto",
        "sizing": "auto",
        "minVizWidth": 8,
        "minVizHeight": 16,
    }
    L.add(curve, 16, 8)
    L.add(
        with_no_value(
            stat(
                "Memory needed for 90 %",
                "The smallest maxmemory predicted to reach a 90 % hit ratio (5m), from the "
                "same curve. Empty when memory alone will not reach 90 % (cold, expired and "
                "deleted misses cap the hit ratio: see 'Hit ratio and its ceilings'), when "
                "it lies beyond what the ghost list covers, or without a prediction.",
                [
                    query(
                        "max by (target) "
                        f"({sel('redis_cache_memory_needed_bytes', eq('window', '5m') + ', ' + eq('hit_ratio', '0.9'))})",
                        "{{target}}",
                    )
                ],
                "bytes",
            ),
            SIZING_OFF,
        ),
        8,
        8,
    )


def miss_causes_row(L):
    """Why this cache misses, measured: misses by cause, the ceilings against the actual hit
    ratio, and the key prefixes the misses come from."""
    L.row("Why it misses: measured causes (miss attribution)")
    L.add(
        stat(
            "Miss attribution",
            "Whether the exporter measures the cause of each miss for the target (keyspace "
            "events, [targets.miss_attribution]). 'attribution off': the panels of this row "
            "stay empty and the cause is the estimate in Evicted vs expired keys; enable it "
            "to see causes, ceilings and prefixes.",
            [query(attribution_active(), "{{target}}")],
            "none",
            mappings=ATTRIBUTION_MAP,
            text="value_and_name",
        ),
        4,
        8,
    )
    L.add(
        with_no_value(
            stacked(
                timeseries(
                    "Misses/s by cause",
                    "Misses per second stacked by measured cause: evicted (give the cache memory "
                    "or an LFU policy), expired (lengthen the TTLs of the keys read most), "
                    "deleted (the application invalidates too eagerly), cold (never cached: "
                    "unique or ever-new key names). The largest band is the one to fix.",
                    [query(attributed_rate("target, cause"), "{{target}} {{cause}}")],
                    "ops",
                )
            )
        ),
        10,
        8,
    )
    L.add(
        hit_ratio_over_time(
            "Hit ratio and its ceilings",
            "The actual hit ratio against the hit ratio (5m) the cache would reach without "
            "evictions, without expirations and without deletions, and the 90 % line. The "
            "highest ceiling names the fix that buys the most; a ceiling below 90 % means "
            "that fix alone is not enough. Only the actual ratio is drawn while attribution "
            "is off.",
            [
                query(hit_ratio("target"), "{{target}} actual", "A"),
                # One query per ceiling: `without` is a PromQL keyword, so `by (without)`
                # does not parse.
                *[
                    query(
                        "max by (target) "
                        f"({sel('redis_cache_hit_ratio_ceiling', eq('window', '5m') + ', ' + eq('without', without))})",
                        "{{target}} without " + without,
                        ref,
                    )
                    for ref, (_, without) in zip("BCD", CAUSE_CEILINGS)
                ],
            ],
        ),
        10,
        8,
    )
    prefixes = panel(
        "table",
        "Top prefixes by misses",
        "The 10 key prefixes with the most misses per second, with the measured cause: fix "
        "the TTL, the memory or the invalidation of the prefix at the top first. Shows "
        "'attribution off' when the target does not measure causes.",
        [
            query(
                f"topk(10, sum by (target, prefix, cause) ({rate('redis_cache_prefix_misses_total')}))",
                instant=True,
                table=True,
            )
        ],
        "ops",
    )
    prefixes["fieldConfig"]["defaults"]["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    prefixes["fieldConfig"]["defaults"]["noValue"] = ATTRIBUTION_OFF
    prefixes["options"] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    prefixes["transformations"] = [
        {
            "id": "organize",
            "options": {
                "excludeByName": {"Time": True},
                "indexByName": {"target": 0, "prefix": 1, "cause": 2, "Value": 3},
                "renameByName": {"target": "Target", "prefix": "Prefix", "cause": "Cause", "Value": "Misses/s"},
            },
        },
        {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": "Misses/s", "desc": True}]}},
    ]
    L.add(prefixes, 12, 8)
    L.add(
        with_no_value(
            timeseries(
                "Attribution coverage",
                "Share of the target's misses (5m) that the exporter attributed to a cause. Near "
                "100 % the causes describe every miss; well below (notifications lost, the "
                "subscriber reconnecting) they describe a sample: read the shares, not the "
                "absolute rates.",
                [
                    query(
                        "max by (target) "
                        f"({sel('redis_cache_miss_attribution_coverage_ratio', eq('window', '5m'))})",
                        "{{target}}",
                    )
                ],
                "percentunit",
                min_=0,
                max_=1,
            )
        ),
        12,
        8,
    )


FILES = {
    "redis-cache-health-overview.json": overview,
    "redis-cache-health-instance.json": instance,
}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv[1:]
    stale = []
    for name, build in FILES.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            "out of date (run python3 dashboards/generate.py): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
