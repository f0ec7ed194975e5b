//! `dq.profile` on the bundled customer CSV agrees with pandas. The figures come from
//! `benches/dq_pandas_profile.py` run with pandas 3.1.1 (`describe()`, `isna().sum()`,
//! `nunique()`); pandas is not needed to run this test.

use std::path::Path;

use flowc::CancelToken;
use flowc::tools::{FileAccess, ToolCall, ToolLog, ToolRegistry};
use serde_json::{Map, Value, json};

fn profile_customers() -> Map<String, Value> {
    let tools = ToolRegistry::builtin();
    let profile = tools.implementation("dq.profile").unwrap();
    let state = json!({ "dataset": "data/customers.csv" });
    let (args, log, cancel) = (Map::new(), ToolLog::default(), CancelToken::new());
    profile
        .call(&ToolCall {
            node: "profile",
            args: &args,
            state: state.as_object().unwrap(),
            cancel: &cancel,
            deadline: None,
            workdir: Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")),
            files: &FileAccess::within([concat!(env!("CARGO_MANIFEST_DIR"), "/examples")]),
            log: &log,
        })
        .unwrap()
}

fn close(found: &Value, expected: f64) {
    let found = found
        .as_f64()
        .unwrap_or_else(|| panic!("{found} is not a number"));
    assert!(
        (found - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{found} != {expected}"
    );
}

#[test]
fn profile_of_the_customer_csv_matches_pandas() {
    let changes = profile_customers();
    assert_eq!(changes["row_count"], json!(3000));
    let profile = &changes["profile"];
    let nulls = [
        ("id", 0),
        ("name", 36),
        ("email", 54),
        ("age", 90),
        ("income", 78),
        ("country", 61),
        ("signup_date", 0),
        ("active", 0),
    ];
    let distinct = [
        ("id", 2936),
        ("name", 320),
        ("email", 2883),
        ("age", 63),
        ("income", 2855),
        ("country", 24),
        ("signup_date", 1464),
        ("active", 2),
    ];
    for ((column, nulls), (_, distinct)) in nulls.into_iter().zip(distinct) {
        assert_eq!(profile[column]["nulls"], json!(nulls), "{column} nulls");
        assert_eq!(
            profile[column]["count"],
            json!(3000 - nulls),
            "{column} count"
        );
        assert_eq!(
            profile[column]["distinct"],
            json!(distinct),
            "{column} distinct"
        );
    }
    // describe(): mean, std (ddof 1), min, 25%, 50%, 75%, max.
    let described = [
        (
            "id",
            [
                1_484.302_666_666_666_7,
                868.749_524_875_772,
                1.0,
                730.75,
                1471.5,
                2233.25,
                2999.0,
            ],
        ),
        (
            "age",
            [
                42.178_350_515_463_92,
                28.759_564_664_139_83,
                18.0,
                33.0,
                41.0,
                49.0,
                999.0,
            ],
        ),
        (
            "income",
            [
                76_965.906_889_117_05,
                372_888.615_632_090_1,
                8000.0,
                41_880.9,
                52_301.29,
                62_699.112_5,
                6_781_102.0,
            ],
        ),
    ];
    for (column, figures) in described {
        let stats = &profile[column];
        for (key, expected) in ["mean", "stddev", "min", "q1", "median", "q3", "max"]
            .into_iter()
            .zip(figures)
        {
            close(&stats[key], expected);
        }
    }
    assert_eq!(profile["age"]["type"], json!("int"));
    assert_eq!(profile["income"]["type"], json!("float"));
    assert_eq!(profile["email"]["type"], json!("email"));
    assert_eq!(profile["active"]["type"], json!("bool"));
    assert_eq!(profile["country"]["type"], json!("string"));
}
