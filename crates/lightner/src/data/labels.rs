//! Label sets: the entity types a model knows, in target order, each with its *label word*
//! (`<<location>>`), the verbaliser whose embedding scores the label (docs/deepke.md §2, docs/deepke.md §11).
//!
//! A label set comes from a built-in map (the reference's datasets), a user's JSON map
//! (`{"PER": "<<person>>", ...}`, order kept), or automatically from the tag names found in the
//! data, verbalised as `fromloc.city_name` → `<<fromloc city name>>`.

use super::sentence::Sentence;
use crate::error::{DataErrorKind, Error, Location, Result};
use std::path::Path;

/// One entity type and its label word.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Label {
    /// The type's name, as written in the data (`PER`, `Restaurant_Name`).
    pub name: String,
    /// The label word (`<<person>>`).
    pub word: String,
}

/// The label map of the reference's datasets, in the reference's (target) order (docs/deepke.md §11).
pub const BUILTIN: [&str; 5] = ["conll2003", "mit-movie", "mit-restaurant", "atis", "cluener2020"];

const CONLL2003: [(&str, &str); 4] =
    [("loc", "<<location>>"), ("per", "<<person>>"), ("org", "<<organization>>"), ("misc", "<<others>>")];
const MIT_MOVIE: [&str; 12] = [
    "genre",
    "actor",
    "year",
    "title",
    "rating",
    "ratings_average",
    "director",
    "plot",
    "character",
    "song",
    "review",
    "trailer",
];
const MIT_RESTAURANT: [&str; 8] =
    ["location", "cuisine", "amenity", "restaurant_name", "rating", "dish", "hours", "price"];
const CLUENER2020: [&str; 10] = [
    "scene",
    "address",
    "book",
    "name",
    "company",
    "organization",
    "government",
    "movie",
    "position",
    "game",
];
const ATIS: [&str; 83] = [
    "depart_date.day_number",
    "arrive_date.day_name",
    "airline_name",
    "depart_date.year",
    "flight_mod",
    "return_date.day_name",
    "toloc.city_name",
    "return_date.day_number",
    "time_relative",
    "city_name",
    "state_code",
    "transport_type",
    "class_type",
    "days_code",
    "toloc.country_name",
    "arrive_date.today_relative",
    "round_trip",
    "toloc.state_name",
    "aircraft_code",
    "arrive_date.month_name",
    "depart_date.today_relative",
    "depart_time.start_time",
    "compartment",
    "day_number",
    "depart_date.date_relative",
    "arrive_date.day_number",
    "depart_time.time",
    "fare_amount",
    "depart_date.month_name",
    "period_of_day",
    "cost_relative",
    "fromloc.airport_name",
    "fare_basis_code",
    "arrive_time.start_time",
    "stoploc.airport_name",
    "time",
    "depart_time.time_relative",
    "return_time.period_of_day",
    "depart_time.period_of_day",
    "economy",
    "mod",
    "stoploc.airport_code",
    "stoploc.state_code",
    "arrive_time.end_time",
    "state_name",
    "airport_name",
    "depart_date.day_name",
    "fromloc.state_name",
    "arrive_time.time_relative",
    "today_relative",
    "day_name",
    "flight_stop",
    "month_name",
    "fromloc.city_name",
    "meal",
    "arrive_time.period_of_day",
    "return_time.period_mod",
    "toloc.airport_code",
    "airport_code",
    "restriction_code",
    "flight_time",
    "airline_code",
    "depart_time.end_time",
    "flight_days",
    "booking_class",
    "flight_number",
    "or",
    "fromloc.airport_code",
    "meal_description",
    "return_date.date_relative",
    "return_date.month_name",
    "arrive_date.date_relative",
    "return_date.today_relative",
    "arrive_time.period_mod",
    "depart_time.period_mod",
    "meal_code",
    "flight",
    "toloc.airport_name",
    "stoploc.city_name",
    "connect",
    "arrive_time.time",
    "toloc.state_code",
    "fromloc.state_code",
];

/// A JSON object's members in file order, duplicates kept (so that they can be reported).
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The 1-based line of the `nth` (0-based) occurrence of `key` as a JSON string in `text`, or 0
/// when it cannot be found (a key written with escapes).
fn line_of_key(text: &str, key: &str, nth: usize) -> usize {
    let quoted = serde_json::to_string(key).unwrap_or_default();
    text.match_indices(&quoted)
        .nth(nth)
        .map_or(0, |(b, _)| 1 + text[..b].bytes().filter(|&c| c == b'\n').count())
}

/// The automatic verbaliser: lower-case, `.` and `_` become spaces, wrapped in `<< >>`.
/// For every non-CoNLL built-in map it gives exactly the reference's label words (docs/deepke.md §11).
pub fn verbalize(ty: &str) -> String {
    let inner: String =
        ty.to_lowercase().chars().map(|c| if c == '.' || c == '_' || c == '-' { ' ' } else { c }).collect();
    format!("<<{}>>", inner.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An ordered set of labels. Label `j` is target index `j + 2` (docs/deepke.md §4.1). Type names are
/// matched case-insensitively, as the reference lower-cases them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelSet {
    labels: Vec<Label>,
}

impl LabelSet {
    /// A label set from labels in target order; rejects empty or duplicate names and words.
    pub fn new(labels: Vec<Label>) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::Config("a label set needs at least one label".into()));
        }
        for (i, l) in labels.iter().enumerate() {
            if l.name.trim().is_empty() || l.word.trim().is_empty() {
                return Err(Error::Config(format!("label {i} has an empty name or label word")));
            }
            if let Some(d) = labels[..i].iter().find(|o| o.name.eq_ignore_ascii_case(&l.name)) {
                return Err(Error::Config(format!(
                    "labels {:?} and {:?} name the same type",
                    d.name, l.name
                )));
            }
            if let Some(d) = labels[..i].iter().find(|o| o.word == l.word) {
                return Err(Error::Config(format!(
                    "types {:?} and {:?} share the label word {:?}; label words must differ",
                    d.name, l.name, l.word
                )));
            }
        }
        Ok(Self { labels })
    }

    /// A built-in map by dataset name (see [`BUILTIN`]).
    pub fn builtin(name: &str) -> Option<Self> {
        let auto =
            |keys: &[&str]| keys.iter().map(|k| Label { name: k.to_string(), word: verbalize(k) }).collect();
        let labels = match name {
            "conll2003" | "conll" => {
                CONLL2003.iter().map(|(k, w)| Label { name: k.to_string(), word: w.to_string() }).collect()
            }
            "mit-movie" => auto(&MIT_MOVIE),
            "mit-restaurant" => auto(&MIT_RESTAURANT),
            "atis" => auto(&ATIS),
            "cluener2020" | "cluener" => auto(&CLUENER2020),
            _ => return None,
        };
        Some(Self { labels })
    }

    /// Labels for the given types, sorted by name (so that the order does not depend on which
    /// sentences a sample drew), with automatic label words.
    pub fn auto<'a>(types: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut names: Vec<&str> = types.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        Self::new(names.into_iter().map(|n| Label { name: n.to_string(), word: verbalize(n) }).collect())
    }

    /// A user's JSON map `{"type": "label word", ...}`; the object's order is the target order.
    /// A label word without `<< >>` is wrapped in them. A UTF-8 byte-order mark is accepted (as in
    /// data files); a type given twice is an error (JSON parsers would keep one silently). Every
    /// error names the file, and the line where it can tell.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes(path, &bytes)
    }

    /// [`LabelSet::from_json_file`] on bytes already read; `path` is only used in messages.
    pub fn from_json_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let at =
            |line: usize, msg: String| Error::data(Location::new(path, line), DataErrorKind::Labels(msg));
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            at(line, "the label map is not UTF-8; re-encode it as UTF-8".into())
        })?;
        let pairs: Pairs = serde_json::from_str(text).map_err(|e| {
            let hint =
                if e.is_data() { "expected a JSON object {\"TYPE\": \"<<label word>>\", ...}: " } else { "" };
            at(e.line(), format!("not a label map: {hint}{e}"))
        })?;
        let mut labels: Vec<Label> = Vec::with_capacity(pairs.0.len());
        for (k, w) in pairs.0 {
            let line = line_of_key(text, &k, labels.iter().filter(|l| l.name == k).count());
            let w =
                w.as_str().ok_or_else(|| at(line, format!("the label word of {k:?} must be a string")))?;
            if labels.iter().any(|l| l.name == k) {
                return Err(at(line, format!("type {k:?} is listed twice; give each type once")));
            }
            let word =
                if w.starts_with("<<") && w.ends_with(">>") { w.to_string() } else { format!("<<{w}>>") };
            labels.push(Label { name: k, word });
        }
        Self::new(labels).map_err(|e| at(0, e.to_string()))
    }

    /// Resolves a `--labels` argument: a built-in name, `auto` (from `types`), or a JSON file.
    pub fn resolve<'a>(spec: &str, types: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        if spec == "auto" {
            return Self::auto(types);
        }
        if let Some(set) = Self::builtin(spec) {
            return Ok(set);
        }
        let path = Path::new(spec);
        if path.exists() {
            return Self::from_json_file(path);
        }
        Err(Error::Config(format!(
            "--labels {spec:?} is neither a built-in map ({}), `auto`, nor an existing JSON file",
            BUILTIN.join(", ")
        )))
    }

    /// Renames labels to the spelling the data uses (`per` → `PER`), matching
    /// case-insensitively, so that predictions use the user's own type names.
    pub fn with_names_from<'a>(mut self, types: impl IntoIterator<Item = &'a str>) -> Self {
        for ty in types {
            if let Some(l) = self.labels.iter_mut().find(|l| l.name.eq_ignore_ascii_case(ty)) {
                l.name = ty.to_string();
            }
        }
        self
    }

    /// Checks that every entity type in `sentences` has a label; the error names the first
    /// sentence (by the line it starts on) that uses an unknown type, and the entity's words.
    pub fn check_covers(&self, path: &Path, sentences: &[Sentence]) -> Result<()> {
        for s in sentences {
            if let Some(sp) = s.spans.iter().find(|sp| self.index_of(&sp.label).is_none()) {
                let words = s.words.get(sp.start..sp.end).map(|w| w.join(" ")).unwrap_or_default();
                return Err(Error::data(
                    Location::new(path, s.line),
                    DataErrorKind::Labels(format!(
                        "entity type {:?} (on {:?}, word {} of the sentence that starts here) is not in the label \
                         set ({}); use --labels auto or add it to your label map",
                        sp.label,
                        words,
                        sp.start + 1,
                        self.labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
        }
        Ok(())
    }

    /// The index of a type (case-insensitive).
    pub fn index_of(&self, ty: &str) -> Option<usize> {
        self.labels.iter().position(|l| l.name.eq_ignore_ascii_case(ty))
    }

    /// The labels in target order.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// Number of labels (C).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: a label set has at least one label.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label at index `j`.
    pub fn get(&self, j: usize) -> Option<&Label> {
        self.labels.get(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbaliser_matches_reference_words() {
        assert_eq!(verbalize("fromloc.city_name"), "<<fromloc city name>>");
        assert_eq!(verbalize("Restaurant_Name"), "<<restaurant name>>");
        assert_eq!(verbalize("ratings_average"), "<<ratings average>>");
        assert_eq!(verbalize("or"), "<<or>>");
    }

    #[test]
    fn an_unknown_type_is_named_with_its_sentences_line_and_its_words() {
        let labels = LabelSet::builtin("mit-movie").expect("a built-in map");
        let sentence = |line, label: &str| Sentence {
            words: ["show", "me", "tom", "hanks"].map(String::from).to_vec(),
            spans: vec![super::super::sentence::Span { start: 2, end: 4, label: label.into() }],
            text: None,
            line,
        };
        let ok = [sentence(1, "ACTOR")];
        labels.check_covers(Path::new("train.txt"), &ok).expect("ACTOR is a MIT-Movie type");
        let bad = [sentence(1, "ACTOR"), sentence(7, "NOPE")];
        let err = labels.check_covers(Path::new("train.txt"), &bad).expect_err("NOPE is not").to_string();
        assert!(err.starts_with("train.txt:7: "), "{err}");
        assert!(err.contains("\"NOPE\" (on \"tom hanks\", word 3 of the sentence"), "{err}");
        assert!(err.contains("--labels auto"), "{err}");
    }

    #[test]
    fn builtins_have_reference_sizes_and_order() {
        let sizes = [4, 12, 8, 83, 10];
        for (name, n) in BUILTIN.iter().zip(sizes) {
            let set = LabelSet::builtin(name).unwrap();
            assert_eq!(set.len(), n, "{name}");
            LabelSet::new(set.labels().to_vec()).unwrap();
        }
        let c = LabelSet::builtin("conll2003").unwrap();
        assert_eq!(c.index_of("PER"), Some(1));
        assert_eq!(c.get(2).unwrap().word, "<<organization>>");
    }

    #[test]
    fn auto_is_sorted_and_renaming_keeps_order() {
        let s = LabelSet::auto(["PER", "LOC", "PER"]).unwrap();
        assert_eq!(s.labels().iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["LOC", "PER"]);
        let c = LabelSet::builtin("conll2003").unwrap().with_names_from(["PER", "LOC"]);
        assert_eq!(c.get(0).unwrap().name, "LOC");
        assert_eq!(c.get(3).unwrap().name, "misc");
    }

    #[test]
    fn json_map_keeps_order_and_rejects_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, r#"{"Z": "zed", "A": "<<a>>"}"#).unwrap();
        let s = LabelSet::from_json_file(&p).unwrap();
        assert_eq!(s.get(0).unwrap(), &Label { name: "Z".into(), word: "<<zed>>".into() });
        std::fs::write(&p, r#"{"Z": "x", "z": "y"}"#).unwrap();
        assert!(LabelSet::from_json_file(&p).is_err());
        std::fs::write(&p, r#"{"Z": "x", "Y": "x"}"#).unwrap();
        assert!(LabelSet::from_json_file(&p).is_err());
    }

    #[test]
    fn json_map_takes_a_bom_and_refuses_a_type_listed_twice_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, "\u{feff}{\"PER\": \"person\"}").unwrap();
        assert_eq!(LabelSet::from_json_file(&p).unwrap().len(), 1);
        std::fs::write(&p, "{\n  \"PER\": \"a\",\n  \"LOC\": \"b\",\n  \"PER\": \"c\"\n}").unwrap();
        let e = LabelSet::from_json_file(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{}:4: ", p.display())) && msg.contains("twice"), "{msg}");
        for bad in ["[1]", "{\"A\": 3}", "{", "", "{\"\": \"x\"}"] {
            std::fs::write(&p, bad).unwrap();
            let msg = LabelSet::from_json_file(&p).unwrap_err().to_string();
            assert!(msg.starts_with(&p.display().to_string()), "{bad}: {msg}");
        }
        std::fs::write(&p, b"{\"A\": \"\xff\"}").unwrap();
        assert!(LabelSet::from_json_file(&p).unwrap_err().to_string().contains("UTF-8"));
    }
}
