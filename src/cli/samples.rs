//! Sample files compiled into the binary, so the demo and the benchmarks run from any
//! directory on a machine without the repository.

use std::path::{Path, PathBuf};

/// Mapping packs from examples/mappings (compiled in): file name, contents.
pub const MAPPING_FILES: &[(&str, &str)] = &[
    (
        "xgewerbeanzeige-gewerberegister.toml",
        include_str!("../../examples/mappings/xgewerbeanzeige-gewerberegister.toml"),
    ),
    (
        "xbau-bauantrag.toml",
        include_str!("../../examples/mappings/xbau-bauantrag.toml"),
    ),
    (
        "xdomea-aussonderung-dms.toml",
        include_str!("../../examples/mappings/xdomea-aussonderung-dms.toml"),
    ),
    (
        "codelists/ags_2026-06-30.xml",
        include_str!("../../examples/mappings/codelists/ags_2026-06-30.xml"),
    ),
    (
        "codelists/rechtsformen-gaengig_2021-06-18.xml",
        include_str!("../../examples/mappings/codelists/rechtsformen-gaengig_2021-06-18.xml"),
    ),
    (
        "codelists/xbau-nachrichten_4.0.xml",
        include_str!("../../examples/mappings/codelists/xbau-nachrichten_4.0.xml"),
    ),
    (
        "codelists/xbau-baumassnahmeart_2.0.xml",
        include_str!("../../examples/mappings/codelists/xbau-baumassnahmeart_2.0.xml"),
    ),
    (
        "codelists/xbau-bauherrodereigentuemerart_2.0.xml",
        include_str!("../../examples/mappings/codelists/xbau-bauherrodereigentuemerart_2.0.xml"),
    ),
    (
        "codelists/xbau-wohngebaeudeart_2.0.xml",
        include_str!("../../examples/mappings/codelists/xbau-wohngebaeudeart_2.0.xml"),
    ),
    (
        "codelists/xbau-gebaeudeklasse_3.0.xml",
        include_str!("../../examples/mappings/codelists/xbau-gebaeudeklasse_3.0.xml"),
    ),
];

/// Writes the mapping packs (with their code lists) into `dir/mappings` and returns that path.
pub fn write_mappings(dir: &Path) -> std::io::Result<PathBuf> {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(mappings.join("codelists"))?;
    for (name, text) in MAPPING_FILES {
        std::fs::write(mappings.join(name), text)?;
    }
    Ok(mappings)
}
