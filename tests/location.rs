//! Location (POI / LBS) behaviour: coordinate validation and conversion, POI loading from a real OpenStreetMap
//! extract and from provider exports, and the location evidence signals.

mod common;

use facereview::checks::{CheckKind, Evidence, EvidenceState, Finding};
use facereview::interview::{CoordSystem, DeclaredBusiness, LocationReport};
use facereview::location::categories::{BUSINESS_CATEGORIES, OSM_TAG_CATEGORIES, OTHER};
use facereview::location::geo::{EARTH_RADIUS_M, in_gcj02_area, to_wgs84};
use facereview::location::{
    LatLon, LocationConfig, LocationError, PoiIndex, evaluate, gcj02_to_wgs84, haversine_m, wgs84_to_gcj02,
};
use facereview::types::MediaTime;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

// ------------------------------------------------------------------------------------------------ helpers

fn ll(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).expect("valid test coordinate")
}

/// `p` moved `north_m` metres north and `east_m` metres east (small offsets, spherical).
fn moved(p: LatLon, north_m: f64, east_m: f64) -> LatLon {
    let dlat = (north_m / EARTH_RADIUS_M).to_degrees();
    let dlon = (east_m / (EARTH_RADIUS_M * p.lat().to_radians().cos())).to_degrees();
    ll(p.lat() + dlat, p.lon() + dlon)
}

fn fix(t_s: f64, p: LatLon, accuracy_m: Option<f64>) -> LocationReport {
    raw_fix(t_s, p.lat(), p.lon(), accuracy_m)
}

fn raw_fix(t_s: f64, lat: f64, lon: f64, accuracy_m: Option<f64>) -> LocationReport {
    LocationReport {
        t: MediaTime::from_secs_f64(t_s),
        lat,
        lon,
        accuracy_m,
        source: Some("gps".into()),
        coord_system: CoordSystem::Wgs84,
    }
}

fn declared(name: &str, category: &str, p: LatLon) -> DeclaredBusiness {
    DeclaredBusiness {
        name: name.into(),
        address: None,
        category: category.into(),
        lat: p.lat(),
        lon: p.lon(),
        coord_system: CoordSystem::Wgs84,
    }
}

fn signal<'a>(ev: &'a [Evidence], id: &str) -> &'a Evidence {
    ev.iter().find(|e| e.signal == id).unwrap_or_else(|| panic!("no {id} in {ev:#?}"))
}

fn finding(ev: &[Evidence], id: &str) -> Option<Finding> {
    signal(ev, id).finding()
}

fn pois(name: &str) -> PathBuf {
    common::root().join("testdata/pois").join(name)
}

/// The real Helsinki extract, loaded once for all tests.
fn helsinki() -> &'static PoiIndex {
    static INDEX: OnceLock<PoiIndex> = OnceLock::new();
    INDEX.get_or_init(|| PoiIndex::from_osm_pbf(common::media("Helsinki.osm.pbf")).expect("Helsinki.osm.pbf loads"))
}

/// Helsinki Central railway station (Rautatientori side), from the brief; POIs checked in the data.
const STATION: (f64, f64) = (60.1719, 24.9414);

// ------------------------------------------------------------------------------------------------ geo

#[test]
fn haversine_matches_known_distances() {
    let deg = EARTH_RADIUS_M.to_radians(); // one degree of arc
    // (a, b, expected metres, tolerance metres)
    let cases = [
        ((0.0, 0.0), (1.0, 0.0), deg, 0.01),                 // 1° of latitude
        ((0.0, 0.0), (0.0, 90.0), 90.0 * deg, 0.1),          // quarter of the equator
        ((90.0, 0.0), (-90.0, 0.0), 180.0 * deg, 0.1),       // pole to pole
        ((10.0, 20.0), (-10.0, -160.0), 180.0 * deg, 1.0),   // antipodes (ill-conditioned)
        ((0.0, 179.5), (0.0, -179.5), deg, 0.01),            // across the date line
        ((60.1719, 24.9414), (60.1719, 24.9414), 0.0, 1e-9), // same point
        // LAX 33°57'N 118°24'W → JFK 40°38'N 73°47'W: 0.623585 rad (Ed Williams, Aviation Formulary).
        ((33.95, -118.4), (40.0 + 38.0 / 60.0, -(73.0 + 47.0 / 60.0)), 0.623585 * EARTH_RADIUS_M, 50.0),
    ];
    for ((la, oa), (lb, ob), want, tol) in cases {
        let got = haversine_m(ll(la, oa), ll(lb, ob));
        assert!((got - want).abs() <= tol, "({la},{oa})→({lb},{ob}): {got} m, want {want} ± {tol}");
        let back = haversine_m(ll(lb, ob), ll(la, oa));
        assert!((got - back).abs() < 1e-6, "distance is symmetric");
    }
    assert!((deg - 111_195.0).abs() < 1.0, "1° = {deg} m");
}

#[test]
fn invalid_coordinates_are_rejected_with_the_value_in_the_message() {
    // (lat, lon, words the message must contain)
    let cases: &[(f64, f64, &[&str])] = &[
        (f64::NAN, 24.9, &["not a finite number", "NaN"]),
        (60.1, f64::INFINITY, &["not a finite number", "inf"]),
        (90.000001, 0.0, &["latitude 90.000001", "out of range", "-90..=90"]),
        (-123.0, 0.0, &["latitude -123", "out of range"]),
        (0.0, 180.5, &["longitude 180.5", "out of range", "-180..=180"]),
        (45.0, -200.0, &["longitude -200", "out of range"]),
    ];
    for (lat, lon, words) in cases {
        let err = LatLon::new(*lat, *lon).expect_err("must be rejected");
        let msg = err.to_string();
        for w in *words {
            assert!(msg.contains(w), "({lat}, {lon}): message {msg:?} lacks {w:?}");
        }
    }
    for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (60.17, 24.94)] {
        assert!(LatLon::new(lat, lon).is_ok(), "({lat}, {lon}) is valid");
    }
    assert!(ll(0.0, 0.0).is_null_island());
    assert!(!ll(0.001, 0.0).is_null_island());
}

/// Published reference pairs (WGS-84 → GCJ-02) from the `eviltransform` test suite (googollee/eviltransform).
type LatLonPair = (f64, f64);

/// (city, WGS-84, GCJ-02)
const GCJ_REFERENCE: &[(&str, LatLonPair, LatLonPair)] = &[
    ("Shanghai", (31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ("Shenzhen", (22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ("Beijing", (39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
];

#[test]
fn wgs84_to_gcj02_matches_published_reference_values() {
    for (city, (wlat, wlon), (glat, glon)) in GCJ_REFERENCE {
        let g = wgs84_to_gcj02(ll(*wlat, *wlon));
        assert!(
            (g.lat() - glat).abs() < 1e-9 && (g.lon() - glon).abs() < 1e-9,
            "{city}: got {g}, want ({glat}, {glon})"
        );
        let back = gcj02_to_wgs84(ll(*glat, *glon));
        let err = haversine_m(back, ll(*wlat, *wlon));
        assert!(err < 0.5, "{city}: inverse off by {err} m");
    }
}

#[test]
fn gcj02_round_trip_is_below_half_a_metre_and_offsets_are_hundreds_of_metres() {
    // (city, WGS-84 point): centres and outskirts of the three cities.
    let cases = [
        ("Beijing Tiananmen", 39.9087, 116.3975),
        ("Beijing Capital Airport", 40.0799, 116.6031),
        ("Shanghai People's Square", 31.2304, 121.4737),
        ("Shanghai Pudong Airport", 31.1443, 121.8083),
        ("Shenzhen Futian", 22.5431, 114.0579),
        ("Shenzhen Bao'an Airport", 22.6393, 113.8107),
    ];
    for (city, lat, lon) in cases {
        let w = ll(lat, lon);
        assert!(in_gcj02_area(w), "{city} is in the GCJ-02 area");
        let g = wgs84_to_gcj02(w);
        let offset = haversine_m(w, g);
        assert!((100.0..=800.0).contains(&offset), "{city}: GCJ-02 offset {offset} m, expected a few hundred");
        let back = gcj02_to_wgs84(g);
        let err = haversine_m(w, back);
        assert!(err < 0.5, "{city}: round trip error {err} m");
        // Reading GCJ-02 as if it were WGS-84 is the mistake the conversion prevents.
        let wrong = to_wgs84(g.lat(), g.lon(), CoordSystem::Wgs84).expect("valid");
        assert!(haversine_m(wrong, w) > 100.0);
        let right = to_wgs84(g.lat(), g.lon(), CoordSystem::Gcj02).expect("valid");
        assert!(haversine_m(right, w) < 0.5);
    }
}

#[test]
fn gcj02_is_wgs84_outside_china() {
    let cases = [
        ("Helsinki", 60.1719, 24.9414),
        ("New York", 40.7128, -74.0060),
        ("Sydney", -33.8688, 151.2093),
        ("Tokyo (east of the box)", 35.6762, 139.6503),
        ("Null island", 0.0, 0.0),
        ("Moscow (north-west of the box)", 55.7558, 37.6173),
    ];
    for (place, lat, lon) in cases {
        let p = ll(lat, lon);
        assert!(!in_gcj02_area(p), "{place}");
        assert_eq!(wgs84_to_gcj02(p), p, "{place}");
        assert_eq!(gcj02_to_wgs84(p), p, "{place}");
    }
}

// ------------------------------------------------------------------------------------------------ categories

#[test]
fn poi_categories_are_scene_categories() {
    let text = std::fs::read_to_string(common::root().join("models/scene_categories.toml")).expect("read toml");
    let table: toml::Table = toml::from_str(&text).expect("parse toml");
    let scene = table.get("category").and_then(|c| c.as_table()).expect("[category.*] tables");
    for c in BUSINESS_CATEGORIES {
        assert!(scene.contains_key(*c), "business category {c} is not in models/scene_categories.toml");
    }
    for (k, v, c) in OSM_TAG_CATEGORIES {
        assert!(BUSINESS_CATEGORIES.contains(c), "{k}={v} maps to {c}, not a business category");
    }
    assert!(!scene.contains_key(OTHER));
    // The brief's mapping.
    use facereview::location::categories::category_for_tag as cat;
    let cases = [
        ("amenity", "restaurant", Some("restaurant_cafe_food")),
        ("amenity", "cafe", Some("restaurant_cafe_food")),
        ("amenity", "fast_food", Some("restaurant_cafe_food")),
        ("shop", "supermarket", Some("grocery_retail")),
        ("shop", "convenience", Some("grocery_retail")),
        ("shop", "hairdresser", Some("barbershop_beauty")),
        ("shop", "clothes", Some("clothing_tailor")),
        ("shop", "books", Some("bookshop_stationery")),
        ("amenity", "pharmacy", Some("pharmacy")),
        ("shop", "hardware", Some("workshop_repair_hardware")),
        ("office", "company", Some("office_desk")),
        ("office", "anything_at_all", Some("office_desk")),
        ("tourism", "hotel", None),
        ("amenity", "bench", None),
    ];
    for (k, v, want) in cases {
        assert_eq!(cat(k, v), want, "{k}={v}");
    }
}

// ------------------------------------------------------------------------------------------------ POI loading

#[test]
fn helsinki_extract_loads_over_a_thousand_named_pois() {
    let idx = helsinki();
    let counts = idx.category_counts();
    eprintln!("Helsinki.osm.pbf: {} POIs, {} named; {counts:?}", idx.len(), idx.named_count());
    assert!(idx.named_count() > 1000, "{} named POIs", idx.named_count());
    assert!(idx.len() >= idx.named_count());
    // The extract is dominated by restaurants/cafes/pubs, companies and clothes shops.
    for (cat, min) in [
        ("restaurant_cafe_food", 300),
        ("office_desk", 150),
        ("clothing_tailor", 80),
        ("barbershop_beauty", 50),
        ("grocery_retail", 40),
        ("pharmacy", 20),
    ] {
        let n = counts.get(cat).copied().unwrap_or(0);
        assert!(n >= min, "{cat}: {n} < {min}");
    }
    // Every POI lies in the extract's area (central Helsinki).
    for p in idx.pois() {
        assert!((60.15..60.19).contains(&p.pos.lat()) && (24.92..24.97).contains(&p.pos.lon()), "{p:?}");
        assert!(p.raw_tags.starts_with("osm=node/") || p.raw_tags.starts_with("osm=way/"), "{p:?}");
    }
}

#[test]
fn restaurants_are_near_the_helsinki_railway_station() {
    let idx = helsinki();
    let station = ll(STATION.0, STATION.1);
    let near = idx.nearby(station, 150.0);
    let restaurants: Vec<_> = near.iter().filter(|(p, _)| p.category == "restaurant_cafe_food").collect();
    assert!(restaurants.len() >= 5, "{} restaurants/cafes within 150 m", restaurants.len());
    assert!(restaurants.iter().any(|(p, _)| p.name == "Isabella Cafe"), "{restaurants:?}");
    // Sorted by distance, distances are true haversine distances within the radius.
    for w in near.windows(2) {
        assert!(w[0].1 <= w[1].1);
    }
    for (p, d) in &near {
        assert!((haversine_m(station, p.pos) - d).abs() < 1e-6 && *d <= 150.0);
    }
    // The R-tree query agrees with a brute-force scan.
    for radius in [10.0, 60.0, 150.0, 400.0] {
        let brute = idx.pois().iter().filter(|p| haversine_m(station, p.pos) <= radius).count();
        assert_eq!(idx.nearby(station, radius).len(), brute, "radius {radius}");
    }
    assert!(idx.nearby(ll(39.9087, 116.3975), 5000.0).is_empty(), "nothing near Beijing");
}

#[test]
fn csv_export_loads_with_quotes_osm_tags_and_gcj02() {
    let idx = PoiIndex::from_csv(pois("provider_export.csv")).expect("loads");
    assert_eq!(idx.len(), 7);
    let by_name = |n: &str| idx.pois().iter().find(|p| p.name == n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(by_name("Parturi Sakset, Kamppi").category, "barbershop_beauty");
    assert_eq!(by_name("Leipomo Lämmin").category, "grocery_retail"); // from shop=bakery
    assert_eq!(by_name("Museo").category, OTHER);
    // The GCJ-02 row is converted to WGS-84 at load (eviltransform's Shanghai reference pair).
    let shanghai = by_name("Lujiazui Coffee").pos;
    assert!(haversine_m(shanghai, ll(31.1774276, 121.5272106)) < 0.5, "{shanghai}");
    assert_eq!(idx.nearby(ll(60.17050, 24.94120), 1.0).len(), 1);
}

#[test]
fn geojson_export_loads_with_tags_and_gcj02() {
    let idx = PoiIndex::from_geojson(pois("provider_export.geojson")).expect("loads");
    assert_eq!(idx.len(), 5);
    let cats: Vec<(&str, &str)> = idx.pois().iter().map(|p| (p.name.as_str(), p.category.as_str())).collect();
    assert_eq!(
        cats,
        vec![
            ("Kahvila Aurora", "restaurant_cafe_food"),
            ("Parturi Sakset", "barbershop_beauty"),
            ("Toimisto Oy", "office_desk"),
            ("Lujiazui Coffee", "restaurant_cafe_food"),
            ("Museo", OTHER),
        ]
    );
    let shanghai = idx.pois()[3].pos;
    assert!(haversine_m(shanghai, ll(31.1774276, 121.5272106)) < 0.5, "{shanghai}");
    // GeoJSON order is [lon, lat].
    assert!((idx.pois()[0].pos.lat() - 60.17050).abs() < 1e-12);
}

#[test]
fn bad_rows_and_features_are_errors_naming_the_line_or_feature() {
    let err = PoiIndex::from_csv(pois("bad_line.csv")).expect_err("line 4 is bad").to_string();
    assert!(err.contains("bad_line.csv") && err.contains("line 4") && err.contains("latitude 95"), "{err}");

    let err = PoiIndex::from_geojson(pois("bad_feature.geojson")).expect_err("feature 2 is bad").to_string();
    assert!(err.contains("bad_feature.geojson") && err.contains("feature 2") && err.contains("longitude 200"), "{err}");

    let missing = PoiIndex::from_csv(pois("no_such_file.csv")).expect_err("missing file");
    assert!(matches!(missing, LocationError::Io { .. }) && missing.to_string().contains("no_such_file.csv"));

    const H: &str = "name,category,lat,lon,coord_system\n";
    // (csv body after the header, words the error must contain)
    let csv_cases: &[(&str, &[&str])] = &[
        ("A,office_desk,60.1,24.9,\nB,restuarant,60.1,24.9,\n", &["line 3", "unknown category \"restuarant\""]),
        ("A,office_desk,sixty,24.9,\n", &["line 2", "lat \"sixty\" is not a number"]),
        ("A,office_desk,60.1,,\n", &["line 2", "lon is empty"]),
        ("A,office_desk,NaN,24.9,\n", &["line 2", "not a finite number"]),
        ("Cafe, Bar,restaurant_cafe_food,60.1,24.9,\n", &["line 2", "6 fields", "header has 5"]),
        ("A,office_desk,60.1,24.9,bd09\n", &["line 2", "unknown coordinate system \"bd09\""]),
        ("\"A,office_desk,60.1,24.9,\n", &["line 2", "unterminated quoted field"]),
    ];
    for (body, words) in csv_cases {
        let err = PoiIndex::parse_csv(&format!("{H}{body}")).expect_err(body).to_string();
        for w in *words {
            assert!(err.contains(w), "{body:?}: {err:?} lacks {w:?}");
        }
    }
    let err = PoiIndex::parse_csv("name,lat,lon\nA,1,2\n").expect_err("no category column").to_string();
    assert!(err.contains("line 1") && err.contains("lacks one of"), "{err}");

    let feature = |geom: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{geom},"properties":{{}}}}]}}"#
        )
    };
    let geo_cases: &[(String, &[&str])] = &[
        (feature(r#"{"type":"Point","coordinates":[24.9]}"#), &["feature 0", "1 coordinates"]),
        (feature(r#"{"type":"Point","coordinates":["24.9", 60.1]}"#), &["feature 0", "longitude is not a number"]),
        (feature(r#"{"type":"Point","coordinates":[24.9, 91]}"#), &["feature 0", "latitude 91"]),
        (feature(r#"{"type":"Polygon","coordinates":[]}"#), &["feature 0", "Polygon is not supported"]),
        (feature("null"), &["feature 0", "no geometry"]),
        (r#"{"type":"Topology"}"#.to_owned(), &["Topology", "FeatureCollection expected"]),
        ("{not json".to_owned(), &["invalid JSON"]),
    ];
    for (text, words) in geo_cases {
        let err = PoiIndex::parse_geojson(text).expect_err(text).to_string();
        for w in *words {
            assert!(err.contains(w), "{text}: {err:?} lacks {w:?}");
        }
    }
}

// ------------------------------------------------------------------------------------------------ evidence

const SIGNALS: [&str; 7] = [
    "location.reports",
    "location.invalid_report",
    "location.distance",
    "location.category",
    "location.declared_poi",
    "location.impossible_travel",
    "location.mock",
];

/// A declared cafe taken from the real data: "Isabella Cafe" near the railway station.
fn isabella() -> DeclaredBusiness {
    let p = helsinki().pois().iter().find(|p| p.name == "Isabella Cafe").expect("Isabella Cafe in the extract");
    declared("Isabella Cafe", "restaurant_cafe_food", p.pos)
}

/// Phone fixes at `offset_m` north of `p`, accuracy ~10 m with realistic jitter, one every 10 s.
fn fixes_near(p: LatLon, offset_m: f64) -> Vec<LocationReport> {
    let jitter = [(0.0, 0.0, 8.2), (1.3, -0.7, 11.6), (-0.9, 1.1, 9.4), (0.4, 0.8, 12.9), (-1.2, -0.3, 10.1)];
    jitter
        .iter()
        .enumerate()
        .map(|(i, (n, e, acc))| fix(10.0 * i as f64, moved(p, offset_m + n, *e), Some(*acc)))
        .collect()
}

#[test]
fn every_signal_is_present_and_missing_inputs_are_explicit() {
    let cfg = LocationConfig::default();
    let ev = evaluate(None, &[], None, &cfg);
    let ids: Vec<&str> = ev.iter().map(|e| e.signal.as_str()).collect();
    assert_eq!(ids, SIGNALS);
    assert!(ev.iter().all(|e| e.check == CheckKind::Location));
    for e in &ev {
        assert!(matches!(e.state, EvidenceState::Missing { .. }), "{e:?}");
    }
    // Reports but no index: the index-based signals are Unavailable, not silently dropped.
    let d = declared("Kahvila", "restaurant_cafe_food", ll(STATION.0, STATION.1));
    let ev = evaluate(Some(&d), &fixes_near(ll(STATION.0, STATION.1), 5.0), None, &cfg);
    for id in ["location.category", "location.declared_poi"] {
        assert!(matches!(signal(&ev, id).state, EvidenceState::Unavailable { .. }), "{id}");
    }
    assert_eq!(finding(&ev, "location.reports"), Some(Finding::Neutral));
    assert_eq!(signal(&ev, "location.reports").value, Some(5.0));
}

#[test]
fn a_declared_cafe_is_supported_nearby_and_refuted_far_away() {
    let cfg = LocationConfig::default();
    let d = isabella();
    let place = ll(d.lat, d.lon);
    // (phone offset north of the cafe in metres, distance finding, category finding)
    let cases = [
        (20.0, Finding::Supports, Finding::Supports),
        (5_000.0, Finding::Concern, Finding::Neutral), // 5 km north is the sea: nothing mapped there
    ];
    for (offset, want_distance, want_category) in cases {
        let reports = fixes_near(place, offset);
        let ev = evaluate(Some(&d), &reports, Some(helsinki()), &cfg);
        let dist = signal(&ev, "location.distance");
        assert_eq!(dist.finding(), Some(want_distance), "{offset} m: {}", dist.summary);
        let best = dist.value.expect("distance value");
        assert!((best - offset).abs() < 3.0, "{offset} m: best distance {best}");
        assert_eq!(dist.at.len(), 1);
        assert!(reports.iter().any(|r| r.t == dist.at[0].range.start), "`at` is a fix's time");
        let cat = signal(&ev, "location.category");
        assert_eq!(cat.finding(), Some(want_category), "{offset} m: {}", cat.summary);
        // The declared name is on the map at the declared coordinates, whatever the phone says.
        let named = signal(&ev, "location.declared_poi");
        assert_eq!(named.finding(), Some(Finding::Supports), "{}", named.summary);
        assert!(named.summary.contains("Isabella Cafe"));
        for id in ["location.impossible_travel", "location.mock", "location.invalid_report"] {
            assert_eq!(finding(&ev, id), Some(Finding::Neutral), "{offset} m: {id}: {}", signal(&ev, id).summary);
        }
    }
}

#[test]
fn the_category_around_the_phone_is_compared_with_the_declared_one() {
    let cfg = LocationConfig::default();
    let station = ll(STATION.0, STATION.1);
    // (declared category, expected finding) with the phone at the station, among cafes, banks, kiosks.
    let cases = [
        ("restaurant_cafe_food", Finding::Supports),
        ("office_desk", Finding::Supports), // Nordea bank / HSL office at ~45 m
        ("bookshop_stationery", Finding::Concern),
    ];
    for (cat, want) in cases {
        let d = declared("Whatever Oy", cat, station);
        let ev = evaluate(Some(&d), &fixes_near(station, 0.0), Some(helsinki()), &cfg);
        let e = signal(&ev, "location.category");
        assert_eq!(e.finding(), Some(want), "{cat}: {}", e.summary);
    }
    let d = declared("Whatever", "spaceport", station);
    let ev = evaluate(Some(&d), &fixes_near(station, 0.0), Some(helsinki()), &cfg);
    assert!(matches!(signal(&ev, "location.category").state, EvidenceState::Unavailable { .. }));
}

#[test]
fn a_name_at_the_declared_place_mapped_as_another_business_is_a_concern() {
    let cfg = LocationConfig::default();
    let mut d = isabella();
    d.category = "pharmacy".into();
    let ev = evaluate(Some(&d), &[], Some(helsinki()), &cfg);
    let e = signal(&ev, "location.declared_poi");
    assert_eq!(e.finding(), Some(Finding::Concern), "{}", e.summary);
    let mut d = isabella();
    d.name = "Totally Different Bakery".into();
    let ev = evaluate(Some(&d), &[], Some(helsinki()), &cfg);
    assert_eq!(finding(&ev, "location.declared_poi"), Some(Finding::Neutral));
}

#[test]
fn impossible_travel_is_a_concern() {
    let cfg = LocationConfig::default();
    let helsinki_p = ll(STATION.0, STATION.1);
    let beijing = ll(39.9087, 116.3975);
    // (case, fixes, expected finding)
    let cases = [
        (
            "Helsinki → Beijing in 1 minute",
            vec![fix(0.0, helsinki_p, Some(10.0)), fix(60.0, beijing, Some(10.0))],
            Finding::Concern,
        ),
        (
            "5 km in 10 s",
            vec![fix(0.0, helsinki_p, Some(10.0)), fix(10.0, moved(helsinki_p, 5000.0, 0.0), Some(10.0))],
            Finding::Concern,
        ),
        (
            "same time, 2 km apart",
            vec![fix(5.0, helsinki_p, Some(5.0)), fix(5.0, moved(helsinki_p, 0.0, 2000.0), Some(5.0))],
            Finding::Concern,
        ),
        (
            "5 km in 10 min by car",
            vec![fix(0.0, helsinki_p, Some(10.0)), fix(600.0, moved(helsinki_p, 5000.0, 0.0), Some(10.0))],
            Finding::Neutral,
        ),
        (
            "GPS jitter of 80 m in 1 s",
            vec![fix(0.0, helsinki_p, Some(40.0)), fix(1.0, moved(helsinki_p, 80.0, 0.0), Some(40.0))],
            Finding::Neutral,
        ),
        (
            "coarse IP fix 3 km off in 5 s",
            vec![fix(0.0, helsinki_p, Some(10.0)), fix(5.0, moved(helsinki_p, 3000.0, 0.0), Some(5000.0))],
            Finding::Neutral,
        ),
    ];
    for (case, mut reports, want) in cases {
        let ev = evaluate(None, &reports, None, &cfg);
        let e = signal(&ev, "location.impossible_travel");
        assert_eq!(e.finding(), Some(want), "{case}: {}", e.summary);
        if want == Finding::Concern {
            assert!(e.value.expect("speed") > 300.0 && e.value.is_some_and(f64::is_finite), "{case}");
            assert!(!e.at.is_empty());
        }
        // Order of arrival does not matter: fixes are sorted by media time.
        reports.reverse();
        let ev = evaluate(None, &reports, None, &cfg);
        assert_eq!(finding(&ev, "location.impossible_travel"), Some(want), "{case} reversed");
    }
    let one = evaluate(None, &[fix(0.0, helsinki_p, Some(5.0))], None, &cfg);
    assert!(matches!(signal(&one, "location.impossible_travel").state, EvidenceState::Missing { .. }));
}

#[test]
fn mock_location_patterns_are_a_concern() {
    let cfg = LocationConfig::default();
    let p = ll(STATION.0, STATION.1);
    let moving = |acc: &dyn Fn(usize) -> Option<f64>| -> Vec<LocationReport> {
        (0..6).map(|i| fix(i as f64 * 5.0, moved(p, i as f64 * 1.7, (i % 3) as f64 * 0.9), acc(i))).collect()
    };
    let mut from_mock = moving(&|_| Some(6.0));
    from_mock[2].source = Some("mock".into());
    // (case, reports, expected finding, words the summary must contain)
    let cases: Vec<(&str, Vec<LocationReport>, Finding, &str)> = vec![
        ("accuracy 0 everywhere", moving(&|_| Some(0.0)), Finding::Concern, "accuracy 0"),
        ("identical fine-grained accuracy", moving(&|_| Some(3.9000000953674316)), Finding::Concern, "identical"),
        (
            "same fix repeated",
            (0..5).map(|i| fix(i as f64 * 5.0, p, Some(7.0 + i as f64 * 1.3))).collect(),
            Finding::Concern,
            "repeat exactly",
        ),
        ("null island", vec![fix(0.0, ll(0.0, 0.0), Some(12.0))], Finding::Concern, "null island"),
        ("mock provider source", from_mock, Finding::Concern, "mock provider"),
        ("real GPS: varying accuracy, jitter", moving(&|i| Some(4.0 + i as f64 * 1.37)), Finding::Neutral, "no mock"),
        ("iOS round accuracy 65 m repeated", moving(&|_| Some(65.0)), Finding::Neutral, "no mock"),
        ("no accuracy at all", moving(&|_| None), Finding::Neutral, "no mock"),
    ];
    for (case, reports, want, words) in cases {
        let ev = evaluate(None, &reports, None, &cfg);
        let e = signal(&ev, "location.mock");
        assert_eq!(e.finding(), Some(want), "{case}: {}", e.summary);
        assert!(e.summary.contains(words), "{case}: {:?} lacks {words:?}", e.summary);
    }
    // A null-island fix says nothing about distance or travel: it is not compared with the declared place.
    let d = declared("X", "office_desk", p);
    let ev = evaluate(Some(&d), &[fix(0.0, p, Some(5.0)), fix(1.0, ll(0.0, 0.0), Some(5.0))], None, &cfg);
    assert_eq!(finding(&ev, "location.distance"), Some(Finding::Supports));
    assert!(matches!(signal(&ev, "location.impossible_travel").state, EvidenceState::Missing { .. }));
}

#[test]
fn invalid_reports_are_skipped_and_reported_without_losing_the_rest() {
    let cfg = LocationConfig::default();
    let d = isabella();
    let mut reports = fixes_near(ll(d.lat, d.lon), 10.0);
    reports.insert(2, raw_fix(12.0, 95.0, 24.94, Some(5.0)));
    reports.push(raw_fix(60.0, f64::NAN, 24.94, Some(5.0)));
    reports.push(raw_fix(61.0, 60.17, 24.94, Some(-3.0)));
    let ev = evaluate(Some(&d), &reports, Some(helsinki()), &cfg);
    let e = signal(&ev, "location.invalid_report");
    assert_eq!(e.finding(), Some(Finding::Concern));
    assert_eq!(e.value, Some(3.0));
    assert!(e.summary.contains("report 3") && e.summary.contains("latitude 95"), "{}", e.summary);
    assert!(e.summary.contains("accuracy -3"), "{}", e.summary);
    assert_eq!(e.at.len(), 3);
    assert_eq!(finding(&ev, "location.distance"), Some(Finding::Supports));
    assert_eq!(finding(&ev, "location.impossible_travel"), Some(Finding::Neutral));
    assert!(signal(&ev, "location.reports").summary.contains("8 location reports (5 valid)"));
}

#[test]
fn gcj02_reports_are_converted_before_comparing() {
    let cfg = LocationConfig::default();
    let (wlat, wlon) = GCJ_REFERENCE[0].1;
    let (glat, glon) = GCJ_REFERENCE[0].2;
    let d = declared("Lujiazui Coffee", "restaurant_cafe_food", ll(wlat, wlon));
    let report = |system| LocationReport { coord_system: system, ..raw_fix(0.0, glat, glon, Some(8.0)) };
    let ev = evaluate(Some(&d), &[report(CoordSystem::Gcj02)], None, &cfg);
    let e = signal(&ev, "location.distance");
    assert_eq!(e.finding(), Some(Finding::Supports), "{}", e.summary);
    assert!(e.value.expect("metres") < 0.5);
    // The same numbers taken as WGS-84 are ~480 m off.
    let ev = evaluate(Some(&d), &[report(CoordSystem::Wgs84)], None, &cfg);
    let e = signal(&ev, "location.distance");
    assert_eq!(e.finding(), Some(Finding::Concern), "{}", e.summary);
    assert!((400.0..600.0).contains(&e.value.expect("metres")));
    // A declared place given in GCJ-02 is converted too.
    let d_gcj = DeclaredBusiness { lat: glat, lon: glon, coord_system: CoordSystem::Gcj02, ..d };
    let ev = evaluate(Some(&d_gcj), &[raw_fix(0.0, wlat, wlon, Some(8.0))], None, &cfg);
    assert_eq!(finding(&ev, "location.distance"), Some(Finding::Supports));
}

#[test]
fn weak_or_coarse_fixes_cannot_confirm_the_place() {
    let cfg = LocationConfig::default();
    let p = ll(STATION.0, STATION.1);
    let d = declared("X", "office_desk", p);
    let mut manual = fix(0.0, p, Some(5.0));
    manual.source = Some("manual".into());
    let coarse = fix(0.0, moved(p, 300.0, 0.0), Some(2500.0));
    for (case, r) in [("typed-in fix", manual), ("2.5 km accuracy", coarse)] {
        let ev = evaluate(Some(&d), &[r], None, &cfg);
        assert_eq!(finding(&ev, "location.distance"), Some(Finding::Neutral), "{case}");
    }
    // Between the tolerance and far_factor × tolerance: neither.
    let ev = evaluate(Some(&d), &[fix(0.0, moved(p, 100.0, 0.0), Some(10.0))], None, &cfg);
    assert_eq!(finding(&ev, "location.distance"), Some(Finding::Neutral));
}

#[test]
fn summaries_never_carry_the_phones_coordinates() {
    let cfg = LocationConfig::default();
    let d = isabella();
    let reports = fixes_near(ll(d.lat, d.lon), 20.0);
    let ev = evaluate(Some(&d), &reports, Some(helsinki()), &cfg);
    for e in &ev {
        let json = serde_json::to_string(e).expect("serialises");
        for r in &reports {
            for v in [r.lat, r.lon] {
                let s = format!("{v:.3}");
                assert!(!json.contains(&s), "{} leaks {s}: {json}", e.signal);
            }
        }
    }
}

#[test]
fn config_defaults_round_trip_and_unknown_fields_are_rejected() {
    let cfg: LocationConfig = serde_json::from_str("{}").expect("all fields default");
    assert_eq!(cfg, LocationConfig::default());
    let cfg: LocationConfig = serde_json::from_str(r#"{"max_speed_kmh": 900}"#).expect("partial");
    assert_eq!(cfg.max_speed_kmh, 900.0);
    assert_eq!(cfg.distance_floor_m, 50.0);
    assert!(serde_json::from_str::<LocationConfig>(r#"{"max_sped_kmh": 900}"#).is_err());
}

proptest! {
    /// Nothing a phone sends may panic the checks; the seven signals always come back, with finite values.
    #[test]
    fn arbitrary_reports_never_panic(
        raw in prop::collection::vec(
            (0u64..10_000_000_000, prop::num::f64::ANY, prop::num::f64::ANY, prop::option::of(prop::num::f64::ANY), any::<bool>()),
            0..12,
        ),
        dlat in -100.0f64..100.0,
        dlon in -200.0f64..200.0,
    ) {
        let reports: Vec<LocationReport> = raw
            .into_iter()
            .map(|(t, lat, lon, acc, gcj)| LocationReport {
                t: MediaTime(t),
                lat,
                lon,
                accuracy_m: acc,
                source: None,
                coord_system: if gcj { CoordSystem::Gcj02 } else { CoordSystem::Wgs84 },
            })
            .collect();
        let d = DeclaredBusiness { lat: dlat, lon: dlon, ..declared("X", "pharmacy", ll(0.0, 0.0)) };
        let ev = evaluate(Some(&d), &reports, Some(helsinki()), &LocationConfig::default());
        prop_assert_eq!(ev.len(), 7);
        for e in &ev {
            prop_assert!(e.value.is_none_or(f64::is_finite), "{:?}", e);
            prop_assert!(serde_json::to_string(e).is_ok());
        }
    }
}
