//! The embedded client's configuration: Arti's defaults (the public Tor network), the
//! directories of [`super::dirs`], and `--arti-config FILE` laid over them. The file is
//! Arti's own TOML format (the client's sections of `arti.toml`: `[tor_network]`,
//! `[path_rules]`, `[address_filter]`, `[storage]`, ...), so a private network's
//! authorities and fallbacks, as chutney writes them for Arti, can be named there.

use arti_client::config::{CfgPath, CfgPathResolver, TorClientConfigBuilder};
use arti_client::TorClientConfig;

use super::dirs::Dirs;
use super::error::ConfigProblem;

/// The configuration for `dirs`, with `overlay` (the text of an Arti TOML file) over
/// it. A `[storage]` directory the file names wins over `dirs`.
pub(crate) fn build(dirs: &Dirs, overlay: Option<&str>) -> Result<TorClientConfig, ConfigProblem> {
    let (mut builder, table) = match overlay {
        Some(text) => {
            let table: toml::Table = toml::from_str(text).map_err(ConfigProblem::Toml)?;
            let builder: TorClientConfigBuilder =
                toml::from_str(text).map_err(ConfigProblem::Toml)?;
            (builder, Some(table))
        }
        None => (TorClientConfigBuilder::default(), None),
    };
    // A private network's authorities must not keep the public ones' addresses (the
    // defaults of the lists the file leaves out).
    let network = table
        .as_ref()
        .and_then(|t| t.get("tor_network"))
        .and_then(toml::Value::as_table);
    let authorities = network
        .and_then(|n| n.get("authorities"))
        .and_then(toml::Value::as_table);
    if let Some(authorities) = authorities {
        let contacts = builder.tor_network().authorities();
        if !authorities.contains_key("uploads") {
            contacts.set_uploads(Vec::new());
        }
        if !authorities.contains_key("downloads") {
            contacts.set_downloads(Vec::new());
        }
        if !authorities.contains_key("votes") {
            contacts.set_votes(Vec::new());
        }
    }
    let storage = table
        .as_ref()
        .and_then(|t| t.get("storage"))
        .and_then(toml::Value::as_table);
    let names = |key: &str| storage.is_some_and(|s| s.contains_key(key));
    if !names("state_dir") {
        builder
            .storage()
            .state_dir(CfgPath::new_literal(dirs.state.clone()));
    }
    if !names("cache_dir") {
        builder
            .storage()
            .cache_dir(CfgPath::new_literal(dirs.cache.clone()));
    }
    builder.build().map_err(ConfigProblem::Build)
}

/// The directories the client will use: `dirs`, or those the overlay names. `None` when
/// the overlay names one through a variable this program does not expand (`${ARTI_CACHE}`):
/// then the client's file system cannot be limited to them.
pub(crate) fn storage(dirs: &Dirs, overlay: Option<&str>) -> Option<Dirs> {
    let table: Option<toml::Table> = overlay.and_then(|text| toml::from_str(text).ok());
    let storage = table
        .as_ref()
        .and_then(|t| t.get("storage"))
        .and_then(toml::Value::as_table);
    let named = |key: &str, default: &std::path::Path| match storage.and_then(|s| s.get(key)) {
        None => Some(default.to_path_buf()),
        Some(value) => value
            .clone()
            .try_into::<CfgPath>()
            .ok()?
            .path(&CfgPathResolver::default())
            .ok(),
    };
    Some(Dirs {
        state: named("state_dir", &dirs.state)?,
        cache: named("cache_dir", &dirs.cache)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Dirs {
        Dirs {
            state: "/s".into(),
            cache: "/c".into(),
        }
    }

    #[test]
    fn defaults_are_the_public_network_in_our_directories() {
        let config = build(&dirs(), None).unwrap();
        let text = format!("{config:?}");
        assert!(text.contains("\"/s\"") && text.contains("\"/c\""), "{text}");
    }

    #[test]
    fn a_private_network_replaces_authorities_and_fallbacks() {
        let overlay = r#"
            [tor_network]
            authorities = { v3idents = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] }
            fallback_caches = [{ rsa_identity = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", ed_identity = "7TfQHXZP7SvdtxnMXQh1CCxvqSnU/9wJ4O7JupzdOXY", orports = ["127.0.0.1:5000"] }]
            [address_filter]
            allow_local_addrs = true
        "#;
        let config = build(&dirs(), Some(overlay)).unwrap();
        let text = format!("{config:?}");
        assert!(text.contains("127.0.0.1:5000"), "{text}");
        assert!(
            !text.contains("128.31.0.39"),
            "a public authority is left: {text}"
        );
    }

    #[test]
    fn the_file_may_move_the_storage() {
        let overlay = "[storage]\nstate_dir = \"/elsewhere\"\n";
        let text = format!("{:?}", build(&dirs(), Some(overlay)).unwrap());
        assert!(
            text.contains("/elsewhere") && text.contains("\"/c\""),
            "{text}"
        );
    }

    #[test]
    fn the_storage_the_client_uses_is_known_unless_a_variable_names_it() {
        assert_eq!(storage(&dirs(), None), Some(dirs()));
        let moved = "[storage]\ncache_dir = \"/elsewhere/cache\"\n";
        assert_eq!(
            storage(&dirs(), Some(moved)),
            Some(Dirs {
                state: dirs().state,
                cache: "/elsewhere/cache".into()
            })
        );
        let variable = "[storage]\nstate_dir = \"${ARTI_LOCAL_DATA}/state\"\n";
        assert_eq!(storage(&dirs(), Some(variable)), None);
    }

    #[test]
    fn bad_toml_is_reported() {
        assert!(build(&dirs(), Some("[tor_network\n")).is_err());
        // Authorities without fallbacks would still fetch from the public network's.
        let only_authorities =
            "[tor_network]\nauthorities = { v3idents = [\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"] }\n";
        assert!(build(&dirs(), Some(only_authorities)).is_err());
    }
}
