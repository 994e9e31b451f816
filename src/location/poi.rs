//! Points of interest and their spatial index.
//!
//! [`PoiIndex`] holds [`Poi`]s in an R-tree (`rstar`) over unit-sphere vectors, so radius queries are exact
//! great-circle queries anywhere on Earth (no longitude wrap or latitude scaling problems). Loaders read the formats
//! operators have:
//!
//! - OpenStreetMap PBF extracts ([`PoiIndex::from_osm_pbf`]): nodes, and ways (at the mean of their nodes), that
//!   carry one of [`categories::POI_KEYS`](super::categories::POI_KEYS) and either a mapped category or a name;
//! - GeoJSON exports ([`PoiIndex::from_geojson`]): a `FeatureCollection` of `Point` features with properties `name`,
//!   `category` (ours, or an OSM tag `shop=bakery`) or OSM-style tags (`amenity`, `shop` ...), optional
//!   `coord_system` (`wgs84` default, `gcj02` converted to WGS-84 at load);
//! - CSV exports ([`PoiIndex::from_csv`]): header `name,category,lat,lon[,coord_system]` (columns found by name,
//!   other columns ignored), RFC 4180 quoting within a line.
//!
//! Errors name the file and the line (CSV), feature index (GeoJSON) or element id (PBF). File I/O happens only in
//! the `from_*` loaders; [`PoiIndex::parse_csv`] and [`PoiIndex::parse_geojson`] parse text already in memory.

use super::LocationError;
use super::categories::{self, OTHER, POI_KEYS};
use super::geo::{self, LatLon};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// One point of interest, in WGS-84.
#[derive(Clone, Debug, PartialEq)]
pub struct Poi {
    /// The POI's name as mapped; empty when it has none.
    pub name: String,
    /// Our business category (see [`categories`](super::categories)), or [`OTHER`].
    pub category: String,
    /// The source tags the category was derived from, `key=value` joined by `;` (provenance for reviewers).
    pub raw_tags: String,
    pub pos: LatLon,
}

type Entry = GeomWithData<[f64; 3], usize>;

/// A tagged OSM way kept from the first pass until its nodes' coordinates are known.
struct OsmWay {
    id: i64,
    tags: Vec<(String, String)>,
    refs: Vec<i64>,
}

/// An R-tree of POIs. Immutable once built; share it between sessions by reference.
pub struct PoiIndex {
    pois: Vec<Poi>,
    tree: RTree<Entry>,
}

impl std::fmt::Debug for PoiIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoiIndex").field("len", &self.pois.len()).finish()
    }
}

impl PoiIndex {
    /// Builds the index (bulk-loaded R-tree).
    pub fn from_pois(pois: Vec<Poi>) -> PoiIndex {
        let entries = pois.iter().enumerate().map(|(i, p)| GeomWithData::new(p.pos.unit_vector(), i)).collect();
        PoiIndex { pois, tree: RTree::bulk_load(entries) }
    }

    pub fn len(&self) -> usize {
        self.pois.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pois.is_empty()
    }

    /// All POIs, in load order.
    pub fn pois(&self) -> &[Poi] {
        &self.pois
    }

    /// POIs within `radius_m` metres (great-circle) of `pos`, nearest first, with their distances in metres.
    /// Ties are broken by name, so the order is deterministic.
    pub fn nearby(&self, pos: LatLon, radius_m: f64) -> Vec<(&Poi, f64)> {
        if radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        // A little slack on the chord so rounding never drops a POI at exactly `radius_m`; the exact haversine
        // filter below decides.
        let chord = geo::chord_for_distance(radius_m) * (1.0 + 1e-9) + 1e-12;
        let mut out: Vec<(&Poi, f64)> = self
            .tree
            .locate_within_distance(pos.unit_vector(), chord * chord)
            .filter_map(|e| self.pois.get(e.data))
            .map(|p| (p, geo::haversine_m(pos, p.pos)))
            .filter(|(_, d)| *d <= radius_m)
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.name.cmp(&b.0.name)));
        out
    }

    /// Number of POIs per category (including [`OTHER`]).
    pub fn category_counts(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for p in &self.pois {
            *m.entry(p.category.as_str()).or_insert(0) += 1;
        }
        m
    }

    /// Number of POIs with a non-empty name.
    pub fn named_count(&self) -> usize {
        self.pois.iter().filter(|p| !p.name.is_empty()).count()
    }

    // ------------------------------------------------------------------------------------------ OSM PBF

    /// Loads POIs from an OpenStreetMap PBF extract: nodes and ways tagged with one of
    /// [`POI_KEYS`](super::categories::POI_KEYS) that have a mapped category or a name (unnamed benches, waste
    /// baskets and parking lots are left out). A way is placed at the mean of its nodes (two passes over the file);
    /// a way none of whose nodes is in the extract is skipped. A node with invalid coordinates is an error.
    pub fn from_osm_pbf(path: impl AsRef<Path>) -> Result<PoiIndex, LocationError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let osm_err = |message: String| LocationError::Osm { origin: origin.clone(), message };

        let mut pois = Vec::new();
        let mut ways: Vec<OsmWay> = Vec::new();
        let mut bad: Option<LocationError> = None;
        let reader = osmpbf::ElementReader::from_path(path).map_err(|e| osm_err(e.to_string()))?;
        reader
            .for_each(|el| {
                if bad.is_some() {
                    return;
                }
                let (kind, id, tags, lat, lon): (&str, i64, Vec<(&str, &str)>, f64, f64) = match &el {
                    osmpbf::Element::Node(n) => ("node", n.id(), n.tags().collect(), n.lat(), n.lon()),
                    osmpbf::Element::DenseNode(n) => ("node", n.id(), n.tags().collect(), n.lat(), n.lon()),
                    osmpbf::Element::Way(w) => {
                        let tags: Vec<(&str, &str)> = w.tags().collect();
                        if is_osm_poi(&tags) {
                            let owned = tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
                            ways.push(OsmWay { id: w.id(), tags: owned, refs: w.refs().collect() });
                        }
                        return;
                    }
                    osmpbf::Element::Relation(_) => return,
                };
                if !is_osm_poi(&tags) {
                    return;
                }
                match LatLon::new(lat, lon) {
                    Ok(pos) => pois.push(osm_poi(kind, id, &tags, pos)),
                    Err(e) => bad = Some(osm_err(format!("{kind} {id}: {e}"))),
                }
            })
            .map_err(|e| osm_err(e.to_string()))?;
        if let Some(e) = bad {
            return Err(e);
        }

        if !ways.is_empty() {
            let wanted: HashSet<i64> = ways.iter().flat_map(|w| w.refs.iter().copied()).collect();
            let mut coords: HashMap<i64, (f64, f64)> = HashMap::with_capacity(wanted.len());
            let reader = osmpbf::ElementReader::from_path(path).map_err(|e| osm_err(e.to_string()))?;
            reader
                .for_each(|el| {
                    let (id, lat, lon) = match &el {
                        osmpbf::Element::Node(n) => (n.id(), n.lat(), n.lon()),
                        osmpbf::Element::DenseNode(n) => (n.id(), n.lat(), n.lon()),
                        _ => return,
                    };
                    if wanted.contains(&id) {
                        coords.insert(id, (lat, lon));
                    }
                })
                .map_err(|e| osm_err(e.to_string()))?;
            for OsmWay { id, tags, refs } in &ways {
                // A closed way repeats its first node; count each node once.
                let mut seen = HashSet::new();
                let pts: Vec<(f64, f64)> =
                    refs.iter().filter(|r| seen.insert(**r)).filter_map(|r| coords.get(r).copied()).collect();
                if pts.is_empty() {
                    continue;
                }
                let n = pts.len() as f64;
                let lat = pts.iter().map(|p| p.0).sum::<f64>() / n;
                let lon = pts.iter().map(|p| p.1).sum::<f64>() / n;
                let pos = LatLon::new(lat, lon).map_err(|e| osm_err(format!("way {id}: {e}")))?;
                let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                pois.push(osm_poi("way", *id, &tags, pos));
            }
        }
        Ok(PoiIndex::from_pois(pois))
    }

    // ------------------------------------------------------------------------------------------ GeoJSON

    /// Loads a GeoJSON file (see the module docs for the expected shape).
    pub fn from_geojson(path: impl AsRef<Path>) -> Result<PoiIndex, LocationError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        Self::parse_geojson_named(&text, &path.display().to_string())
    }

    /// Parses GeoJSON text already in memory (errors say `<geojson>` instead of a file name).
    pub fn parse_geojson(text: &str) -> Result<PoiIndex, LocationError> {
        Self::parse_geojson_named(text, "<geojson>")
    }

    fn parse_geojson_named(text: &str, origin: &str) -> Result<PoiIndex, LocationError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| LocationError::Json { origin: origin.to_owned(), message: e.to_string() })?;
        let top_err = |message: &str| LocationError::GeoJson { origin: origin.to_owned(), message: message.to_owned() };
        let single;
        let features: &[Value] = match doc.get("type").and_then(Value::as_str) {
            Some("FeatureCollection") => {
                doc.get("features").and_then(Value::as_array).ok_or_else(|| top_err("no \"features\" array"))?
            }
            Some("Feature") => {
                single = [doc.clone()];
                &single
            }
            Some(other) => return Err(top_err(&format!("top-level type {other:?} (FeatureCollection expected)"))),
            None => return Err(top_err("no top-level \"type\" (FeatureCollection expected)")),
        };
        let mut pois = Vec::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            let poi = geojson_feature(f).map_err(|message| LocationError::GeoJsonFeature {
                origin: origin.to_owned(),
                index: i,
                message,
            })?;
            pois.push(poi);
        }
        Ok(PoiIndex::from_pois(pois))
    }

    // ------------------------------------------------------------------------------------------ CSV

    /// Loads a CSV file with header `name,category,lat,lon[,coord_system]`.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<PoiIndex, LocationError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        Self::parse_csv_named(&text, &path.display().to_string())
    }

    /// Parses CSV text already in memory (errors say `<csv>` instead of a file name).
    pub fn parse_csv(text: &str) -> Result<PoiIndex, LocationError> {
        Self::parse_csv_named(text, "<csv>")
    }

    fn parse_csv_named(text: &str, origin: &str) -> Result<PoiIndex, LocationError> {
        let err = |line: usize, message: String| LocationError::Csv { origin: origin.to_owned(), line, message };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
        let Some((hline, header)) = lines.next() else {
            return Err(err(1, "empty file (header name,category,lat,lon[,coord_system] expected)".into()));
        };
        let header: Vec<String> =
            split_csv_line(header).map_err(|m| err(hline, m))?.into_iter().map(|h| h.trim().to_lowercase()).collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(c_name), Some(c_cat), Some(c_lat), Some(c_lon)) =
            (col("name"), col("category"), col("lat"), col("lon"))
        else {
            return Err(err(hline, format!("header {:?} lacks one of name, category, lat, lon", header.join(","))));
        };
        let c_sys = col("coord_system");

        let mut pois = Vec::new();
        for (n, line) in lines {
            let fields = split_csv_line(line).map_err(|m| err(n, m))?;
            if fields.len() != header.len() {
                return Err(err(
                    n,
                    format!(
                        "{} fields, the header has {} (quote a field that contains a comma)",
                        fields.len(),
                        header.len()
                    ),
                ));
            }
            let field = |c: usize| fields.get(c).map(|s| s.trim()).unwrap_or("");
            let lat = parse_number(field(c_lat), "lat").map_err(|m| err(n, m))?;
            let lon = parse_number(field(c_lon), "lon").map_err(|m| err(n, m))?;
            let system = match c_sys {
                Some(c) => geo::parse_coord_system(field(c)).map_err(|e| err(n, e.to_string()))?,
                None => Default::default(),
            };
            let pos = geo::to_wgs84(lat, lon, system).map_err(|e| err(n, e.to_string()))?;
            let raw = field(c_cat);
            let category = resolve_category(Some(raw), std::iter::empty()).map_err(|m| err(n, m))?;
            pois.push(Poi {
                name: field(c_name).to_owned(),
                category,
                raw_tags: if raw.is_empty() { String::new() } else { format!("category={raw}") },
                pos,
            });
        }
        Ok(PoiIndex::from_pois(pois))
    }
}

fn read_text(path: &Path) -> Result<String, LocationError> {
    std::fs::read_to_string(path).map_err(|source| LocationError::Io { path: path.to_path_buf(), source })
}

/// A POI candidate: has a POI key, and a mapped category or a name.
fn is_osm_poi(tags: &[(&str, &str)]) -> bool {
    let has_key = tags.iter().any(|(k, _)| POI_KEYS.contains(k));
    has_key && (categories::category_for_tags(tags.iter().copied()).is_some() || osm_name(tags).is_some())
}

fn osm_name<'a>(tags: &[(&'a str, &'a str)]) -> Option<&'a str> {
    tags.iter().find(|(k, _)| *k == "name").map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

fn osm_poi(kind: &str, id: i64, tags: &[(&str, &str)], pos: LatLon) -> Poi {
    let category = categories::category_for_tags(tags.iter().copied()).unwrap_or(OTHER);
    let mut raw = vec![format!("osm={kind}/{id}")];
    raw.extend(tags.iter().filter(|(k, _)| POI_KEYS.contains(k)).map(|(k, v)| format!("{k}={v}")));
    Poi { name: osm_name(tags).unwrap_or("").to_owned(), category: category.to_owned(), raw_tags: raw.join(";"), pos }
}

/// Our category from an explicit category field (ours, `other`, or an OSM `key=value`), else from OSM-style tags,
/// else [`OTHER`]. An unknown explicit category is an error (catches typos in exports).
fn resolve_category<'a>(
    explicit: Option<&str>,
    tags: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<String, String> {
    match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) if categories::is_business_category(c) || c == OTHER => Ok(c.to_owned()),
        Some(c) => match c.split_once('=') {
            Some((k, v)) => Ok(categories::category_for_tag(k.trim(), v.trim()).unwrap_or(OTHER).to_owned()),
            None => Err(format!(
                "unknown category {c:?} (expected one of {}, {OTHER}, or an OSM tag such as shop=bakery)",
                categories::BUSINESS_CATEGORIES.join(", ")
            )),
        },
        None => Ok(categories::category_for_tags(tags).unwrap_or(OTHER).to_owned()),
    }
}

fn parse_number(s: &str, what: &str) -> Result<f64, String> {
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    s.parse::<f64>().map_err(|_| format!("{what} {s:?} is not a number"))
}

/// Splits one CSV line (RFC 4180 quoting: `"a, b"`, `""` for a quote). Quoted fields may not span lines.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => in_quotes = false,
                _ => cur.push(c),
            }
        } else {
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut cur));
                    was_quoted = false;
                }
                '"' if cur.trim().is_empty() && !was_quoted => {
                    cur.clear();
                    in_quotes = true;
                    was_quoted = true;
                }
                '"' => return Err("stray quote inside an unquoted field".into()),
                _ if was_quoted && !c.is_whitespace() => {
                    return Err("text after a closing quote".into());
                }
                _ => cur.push(c),
            }
        }
    }
    if in_quotes {
        return Err("unterminated quoted field (quoted fields may not span lines)".into());
    }
    fields.push(cur);
    Ok(fields)
}

/// One GeoJSON feature → POI; the error is the message without the feature index.
fn geojson_feature(f: &Value) -> Result<Poi, String> {
    if f.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err("not a Feature (\"type\": \"Feature\" expected)".into());
    }
    let geom = f.get("geometry").filter(|g| !g.is_null()).ok_or("no geometry")?;
    match geom.get("type").and_then(Value::as_str) {
        Some("Point") => {}
        Some(t) => return Err(format!("geometry type {t} is not supported (Point expected)")),
        None => return Err("geometry without a type".into()),
    }
    let coords = geom.get("coordinates").and_then(Value::as_array).ok_or("Point without coordinates")?;
    if coords.len() < 2 {
        return Err(format!("Point has {} coordinates ([lon, lat] expected)", coords.len()));
    }
    let num = |i: usize, what: &str| {
        coords.get(i).and_then(Value::as_f64).ok_or_else(|| format!("{what} is not a number ([lon, lat] expected)"))
    };
    let (lon, lat) = (num(0, "longitude")?, num(1, "latitude")?);

    let empty = serde_json::Map::new();
    let props = match f.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err("properties is not an object".into()),
    };
    let prop_str = |k: &str| -> Result<Option<&str>, String> {
        match props.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("property {k:?} is not a string: {other}")),
        }
    };
    let system = geo::parse_coord_system(prop_str("coord_system")?.unwrap_or("")).map_err(|e| e.to_string())?;
    let pos = geo::to_wgs84(lat, lon, system).map_err(|e| e.to_string())?;
    let tags: Vec<(&str, &str)> = props.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))).collect();
    let explicit = prop_str("category")?;
    let category = resolve_category(explicit, tags.iter().copied())?;
    let raw_tags = tags
        .iter()
        .filter(|(k, _)| POI_KEYS.contains(k) || *k == "category")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    Ok(Poi { name: prop_str("name")?.unwrap_or("").trim().to_owned(), category, raw_tags, pos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_line_splitting_handles_quotes() {
        assert_eq!(split_csv_line("a,b,,c").unwrap(), vec!["a", "b", "", "c"]);
        assert_eq!(split_csv_line("\"Café, Bar\",x").unwrap(), vec!["Café, Bar", "x"]);
        assert_eq!(split_csv_line("\"say \"\"hi\"\"\",1").unwrap(), vec!["say \"hi\"", "1"]);
        assert!(split_csv_line("\"open,1").is_err());
        assert!(split_csv_line("ab\"c,1").is_err());
        assert!(split_csv_line("\"a\"b,1").is_err());
    }
}
