//! The default files of a new project. Planbase owns them (embedded from `data/`); a test
//! checks they equal HeartRule's project templates.

use super::model::SetFile;

pub const DEFAULT_FILES: [(&str, &str, &str); 3] = [
    ("global", "global.yaml", include_str!("../../data/project-templates/global.yaml")),
    ("roles", "roles.yaml", include_str!("../../data/project-templates/roles.yaml")),
    ("skills", "skills.yaml", include_str!("../../data/project-templates/skills.yaml")),
];

pub fn default_set() -> Vec<SetFile> {
    DEFAULT_FILES
        .iter()
        .map(|(t, n, y)| SetFile { file_type: t.to_string(), file_name: n.to_string(), yaml_content: y.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_equal_heartrule_templates() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/heartrule/project-templates");
        for (_, name, embedded) in super::DEFAULT_FILES {
            let original = std::fs::read_to_string(format!("{dir}/{name}")).expect("fixture present beside the repo");
            assert_eq!(embedded, original, "{name}");
        }
    }
}
