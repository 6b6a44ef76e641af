//! Property tests: every parser that reads user or cluster input returns a value or a typed
//! error for any input, and never panics (issue 10: "fuzz the parsers: no panics").
//!
//! The generated inputs mix arbitrary strings with near-valid ones (mutations of real versions,
//! templates and payloads), where parsers are most likely to trip.

use kupgrade::{
    cli::{OutputFormat, parse_duration},
    helm::{decode_release, encode_release},
    kubesphere::role_from_config,
    output::jsonpath::Template,
    version::Version,
};
use proptest::prelude::*;
use serde_json::json;

fn near_version() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[vV]?[0-9]{0,12}(\\.[0-9]{0,12}){0,4}(-[a-z0-9.\\-]{0,10})?(\\+[a-z0-9.]{0,8})?",
        "v1\\.[0-9]{1,3}\\.[0-9]{1,3}[\\-+ ]?.{0,6}",
    ]
}

fn near_template() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("{range .items[*]}".to_string()),
        Just("{end}".to_string()),
        Just("{.a.b}".to_string()),
        Just("{.items[?(@.x==\"y\")].n}".to_string()),
        Just("{\"\\n\"}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("..".to_string()),
        Just("[-1:]".to_string()),
        "[a-z.*@$?()=<>!0-9]{0,6}",
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(atoms, 0..10).prop_map(|v| v.concat())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn versions(input in near_version()) {
        if let Ok(v) = input.parse::<Version>() {
            // What parses prints back to something that parses to the same version.
            let again: Version = v.to_string().parse().unwrap();
            prop_assert_eq!(again, v);
        }
    }

    #[test]
    fn jsonpath_templates(template in near_template()) {
        let doc = json!({"a": {"b": 1}, "items": [{"x": "y", "n": "first"}, {"x": "z"}], "s": "t"});
        if let Ok(t) = Template::parse(&template) {
            let _ = t.render(&doc);
        }
    }

    #[test]
    fn output_flags_and_durations(input in any::<String>()) {
        let _ = input.parse::<OutputFormat>();
        let _ = parse_duration(&input);
    }

    #[test]
    fn helm_payloads(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_release(&bytes);
    }

    #[test]
    fn corrupted_helm_payloads(flip in 0usize..4096, byte in any::<u8>(), cut in 0usize..4096) {
        let mut payload = encode_release(&json!({"name": "ks-core", "version": 2,
            "info": {"status": "deployed"}, "chart": {"metadata": {"appVersion": "v4.1.3"}},
            "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}));
        let i = flip % payload.len();
        payload[i] = byte;
        payload.truncate(cut.max(1).min(payload.len()));
        let _ = decode_release(&payload);
    }

    #[test]
    fn kubesphere_config_text(text in any::<String>()) {
        let _ = role_from_config(&text);
    }

    #[test]
    fn ks_core_values_files(text in near_values()) {
        let _ = kupgrade::migrate::values::parse(&text, std::path::Path::new("ks-core-values.yaml"));
    }

    #[test]
    fn removed_api_tables(text in near_api_table()) {
        let _ = kupgrade::plan::apis::parse_table(&text);
    }
}

/// ks-core-values.yaml-like text: the real keys with odd values, cut or mixed with noise.
fn near_values() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("upgrade:\n".to_string()),
        Just("  enabled: true\n".to_string()),
        Just("  enabled: [x]\n".to_string()),
        Just("  config:\n    jobs:\n".to_string()),
        Just("      gateway:\n        enabled: true\n        priority: 90\n".to_string()),
        Just("        priority: -99999999999999999999\n".to_string()),
        Just("        extensionRef: {name: gateway, version: 1.0.5}\n".to_string()),
        Just("      no-such-job: {enabled: true}\n".to_string()),
        Just("global: {imageRegistry: docker.io, tag: v4.1.3}\n".to_string()),
        Just("  persistenceVolume: {storageClassName: ~, size: 5Gi}\n".to_string()),
        Just("&a [*a]\n".to_string()),
        Just("\t- ".to_string()),
        "[ -~]{0,12}\n",
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(atoms, 0..12).prop_map(|v| v.concat()),
    ]
}

/// Removed-API-table-like text.
fn near_api_table() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("apis:\n".to_string()),
        Just("- apiVersion: extensions/v1beta1\n  kind: Ingress\n".to_string()),
        Just("  removedIn: v1.22\n".to_string()),
        Just("  deprecatedIn: v1.x\n".to_string()),
        Just("  replacement: networking.k8s.io/v1\n".to_string()),
        Just("  resource: ingresses\n".to_string()),
        Just("  removedIn: 99999999999999999999\n".to_string()),
        "[ -~]{0,12}\n",
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(atoms, 0..10).prop_map(|v| v.concat()),
    ]
}
