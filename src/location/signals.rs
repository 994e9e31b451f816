//! The location signals (see the table in the module docs of [`crate::location`]).

use super::categories::{self, OTHER};
use super::geo::{self, LatLon};
use super::{LocationConfig, Poi, PoiIndex};
use crate::checks::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::interview::{DeclaredBusiness, LocationReport};
use crate::types::{MediaTime, TimeRange};
use std::collections::{BTreeMap, HashMap};

const K: CheckKind = CheckKind::Location;

pub const SIG_REPORTS: &str = "location.reports";
pub const SIG_INVALID: &str = "location.invalid_report";
pub const SIG_DISTANCE: &str = "location.distance";
pub const SIG_CATEGORY: &str = "location.category";
pub const SIG_DECLARED_POI: &str = "location.declared_poi";
pub const SIG_TRAVEL: &str = "location.impossible_travel";
pub const SIG_MOCK: &str = "location.mock";

/// At most this many time references on one piece of evidence.
const MAX_REFS: usize = 5;

/// A report that passed validation, in WGS-84.
#[derive(Clone, Debug)]
struct Fix<'a> {
    /// Position of the report in the input (0-based).
    index: usize,
    t: MediaTime,
    pos: LatLon,
    report: &'a LocationReport,
}

impl Fix<'_> {
    fn accuracy(&self, cfg: &LocationConfig) -> f64 {
        self.report.accuracy_m.unwrap_or(cfg.missing_accuracy_m)
    }
    fn source_in(&self, list: &[String]) -> bool {
        self.report.source.as_deref().is_some_and(|s| list.iter().any(|w| w.eq_ignore_ascii_case(s.trim())))
    }
}

fn at(t: MediaTime) -> EvidenceRef {
    EvidenceRef { range: TimeRange::new(t, t), frame: None }
}

fn span(a: MediaTime, b: MediaTime) -> EvidenceRef {
    EvidenceRef { range: TimeRange::new(a, b), frame: None }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "18 m" below 1 km, "5.02 km" above.
fn fmt_dist(m: f64) -> String {
    if m < 1000.0 { format!("{m:.0} m") } else { format!("{:.2} km", m / 1000.0) }
}

/// Evaluates all location signals. `declared` and `index` may be absent; the signals that need them then say
/// `Missing` / `Unavailable`. Invalid reports are skipped (and reported by `location.invalid_report`); nothing here
/// panics on any input.
pub fn evaluate(
    declared: Option<&DeclaredBusiness>,
    reports: &[LocationReport],
    index: Option<&PoiIndex>,
    cfg: &LocationConfig,
) -> Vec<Evidence> {
    let mut fixes = Vec::with_capacity(reports.len());
    let mut invalid = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        match validate(r) {
            Ok(pos) => fixes.push(Fix { index: i, t: r.t, pos, report: r }),
            Err(reason) => invalid.push((i, r.t, reason)),
        }
    }
    fixes.sort_by_key(|f| (f.t, f.index));
    // Null island is a valid coordinate but no real position: only the mock check looks at it.
    let usable: Vec<&Fix> = fixes.iter().filter(|f| !f.pos.is_null_island()).collect();

    let declared_pos = declared.map(|d| geo::to_wgs84(d.lat, d.lon, d.coord_system).map_err(|e| e.to_string()));

    vec![
        reports_signal(reports, &fixes),
        invalid_signal(reports.len(), &invalid),
        distance_signal(declared_pos.as_ref(), &usable, cfg),
        category_signal(declared, &usable, index, cfg),
        declared_poi_signal(declared, declared_pos.as_ref(), index, cfg),
        travel_signal(reports.len(), &usable, cfg),
        mock_signal(&fixes, cfg),
    ]
}

/// Coordinates (in their system) → WGS-84; accuracy, when present, must be finite and ≥ 0.
fn validate(r: &LocationReport) -> Result<LatLon, String> {
    let pos = geo::to_wgs84(r.lat, r.lon, r.coord_system).map_err(|e| e.to_string())?;
    if let Some(a) = r.accuracy_m
        && (!a.is_finite() || a < 0.0)
    {
        return Err(format!("accuracy {a} m is not a valid accuracy (finite, >= 0 expected)"));
    }
    Ok(pos)
}

// ------------------------------------------------------------------------------------------------ reports

fn reports_signal(reports: &[LocationReport], fixes: &[Fix]) -> Evidence {
    if reports.is_empty() {
        return Evidence::missing(K, SIG_REPORTS, "the phone sent no location report");
    }
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    for f in fixes {
        *sources.entry(f.report.source.as_deref().unwrap_or("unknown")).or_insert(0) += 1;
    }
    let sources = sources.iter().map(|(s, n)| format!("{s} ×{n}")).collect::<Vec<_>>().join(", ");
    let best = fixes.iter().filter_map(|f| f.report.accuracy_m).min_by(f64::total_cmp);
    let span_s = match (fixes.first(), fixes.last()) {
        (Some(a), Some(b)) => b.t.since(a.t).as_secs_f64(),
        _ => 0.0,
    };
    let best = best.map_or("no accuracy reported".to_owned(), |a| format!("best accuracy {}", fmt_dist(a)));
    Evidence::observed(
        K,
        SIG_REPORTS,
        Finding::Neutral,
        1.0,
        format!(
            "{} location reports ({} valid) over {span_s:.0} s; sources {}; {best}",
            reports.len(),
            fixes.len(),
            if sources.is_empty() { "none".to_owned() } else { sources }
        ),
    )
    .with_value(reports.len() as f64)
}

fn invalid_signal(n_reports: usize, invalid: &[(usize, MediaTime, String)]) -> Evidence {
    if n_reports == 0 {
        return Evidence::missing(K, SIG_INVALID, "no location report to validate");
    }
    if invalid.is_empty() {
        return Evidence::observed(
            K,
            SIG_INVALID,
            Finding::Neutral,
            1.0,
            format!("all {n_reports} location reports have valid coordinates"),
        )
        .with_value(0.0);
    }
    let details = invalid
        .iter()
        .take(3)
        .map(|(i, t, reason)| format!("report {} at {t}: {reason}", i + 1))
        .collect::<Vec<_>>()
        .join("; ");
    let more = if invalid.len() > 3 { format!("; and {} more", invalid.len() - 3) } else { String::new() };
    let mut ev = Evidence::observed(
        K,
        SIG_INVALID,
        Finding::Concern,
        0.6,
        format!("{} of {n_reports} location reports were skipped as invalid: {details}{more}", invalid.len()),
    )
    .with_value(invalid.len() as f64);
    for (_, t, _) in invalid.iter().take(MAX_REFS) {
        ev = ev.at(at(*t));
    }
    ev
}

// ------------------------------------------------------------------------------------------------ distance

fn distance_signal(declared: Option<&Result<LatLon, String>>, fixes: &[&Fix], cfg: &LocationConfig) -> Evidence {
    let target = match declared {
        None => return Evidence::missing(K, SIG_DISTANCE, "no declared business location"),
        Some(Err(e)) => return Evidence::unavailable(K, SIG_DISTANCE, format!("declared coordinates invalid: {e}")),
        Some(Ok(p)) => *p,
    };
    if fixes.is_empty() {
        return Evidence::missing(K, SIG_DISTANCE, "no valid location fix to compare with the declared place");
    }
    struct Row {
        t: MediaTime,
        d: f64,
        acc: f64,
        tol: f64,
        can_support: bool,
    }
    let rows: Vec<Row> = fixes
        .iter()
        .map(|f| {
            let acc = f.accuracy(cfg);
            Row {
                t: f.t,
                d: geo::haversine_m(f.pos, target),
                acc,
                tol: acc.max(cfg.distance_floor_m),
                can_support: acc <= cfg.max_supporting_accuracy_m && !f.source_in(&cfg.weak_sources),
            }
        })
        .collect();
    let n = rows.len() as f32;
    let within: Vec<&Row> = rows.iter().filter(|r| r.d <= r.tol && r.can_support).collect();
    let far: Vec<&Row> = rows.iter().filter(|r| r.d > cfg.far_factor * r.tol).collect();
    // Nearest fix relative to its tolerance.
    let Some(best) = rows.iter().min_by(|a, b| (a.d / a.tol).total_cmp(&(b.d / b.tol))) else {
        return Evidence::missing(K, SIG_DISTANCE, "no valid location fix");
    };
    let best_d = rows.iter().map(|r| r.d).fold(f64::INFINITY, f64::min);
    let detail = format!(
        "nearest fix {} from the declared place (accuracy {}, tolerance {})",
        fmt_dist(best.d),
        fmt_dist(best.acc),
        fmt_dist(best.tol)
    );
    let (finding, confidence, summary) = if !within.is_empty() {
        let frac = within.len() as f32 / n;
        let conf = if far.is_empty() { 0.5 + 0.45 * frac } else { 0.3 + 0.4 * frac };
        let far_note =
            if far.is_empty() { String::new() } else { format!("; {} far from it", plural(far.len(), "fix", "fixes")) };
        (
            Finding::Supports,
            conf,
            format!("{detail}; {} of {} fixes within tolerance{far_note}", within.len(), rows.len()),
        )
    } else if far.len() == rows.len() {
        (
            Finding::Concern,
            0.6 + 0.3 * (1.0 - (cfg.far_factor * best.tol / best.d).clamp(0.0, 1.0) as f32),
            format!(
                "all {} fixes are far from the declared place: {detail}, beyond {} × tolerance",
                rows.len(),
                cfg.far_factor
            ),
        )
    } else {
        (
            Finding::Neutral,
            0.5,
            format!(
                "{detail}; no fix both within tolerance and precise enough (≤ {}, not {}) to confirm it",
                fmt_dist(cfg.max_supporting_accuracy_m),
                cfg.weak_sources.join("/")
            ),
        )
    };
    Evidence::observed(K, SIG_DISTANCE, finding, confidence, summary).with_value(best_d).at(at(best.t))
}

// ------------------------------------------------------------------------------------------------ category

fn category_signal(
    declared: Option<&DeclaredBusiness>,
    fixes: &[&Fix],
    index: Option<&PoiIndex>,
    cfg: &LocationConfig,
) -> Evidence {
    let Some(declared) = declared else {
        return Evidence::missing(K, SIG_CATEGORY, "no declared business category");
    };
    if fixes.is_empty() {
        return Evidence::missing(K, SIG_CATEGORY, "no valid location fix to look for POIs around");
    }
    let Some(index) = index else {
        return Evidence::unavailable(K, SIG_CATEGORY, "no POI index loaded");
    };
    let want = declared.category.trim();
    if !categories::is_business_category(want) {
        return Evidence::unavailable(
            K,
            SIG_CATEGORY,
            format!("declared category {want:?} is not one of {}", categories::BUSINESS_CATEGORIES.join(", ")),
        );
    }
    // Each POI once, at its smallest distance to any fix.
    let mut seen: HashMap<*const Poi, (&Poi, f64, MediaTime)> = HashMap::new();
    let mut radius_used = cfg.category_radius_m;
    for f in fixes {
        let r = f.accuracy(cfg).clamp(cfg.category_radius_m, cfg.category_radius_max_m.max(cfg.category_radius_m));
        radius_used = radius_used.max(r);
        for (p, d) in index.nearby(f.pos, r) {
            let e = seen.entry(p as *const Poi).or_insert((p, d, f.t));
            if d < e.1 {
                *e = (p, d, f.t);
            }
        }
    }
    let mut near: Vec<(&Poi, f64, MediaTime)> = seen.into_values().collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.name.cmp(&b.0.name)));
    let matching: Vec<&(&Poi, f64, MediaTime)> = near.iter().filter(|(p, _, _)| p.category == want).collect();
    let categorised: Vec<&(&Poi, f64, MediaTime)> = near.iter().filter(|(p, _, _)| p.category != OTHER).collect();
    let radius = fmt_dist(radius_used);
    if let Some((p, d, t)) = matching.first() {
        let conf = 0.55 + 0.3 * (1.0 - (d / radius_used).clamp(0.0, 1.0)) as f32;
        return Evidence::observed(
            K,
            SIG_CATEGORY,
            Finding::Supports,
            conf,
            format!(
                "{} {want} POI(s) within {radius} of the phone; nearest {} at {}",
                matching.len(),
                poi_label(p),
                fmt_dist(*d)
            ),
        )
        .with_value(*d)
        .at(at(*t));
    }
    let Some(&&(first, first_d, first_t)) = categorised.first() else {
        return Evidence::observed(
            K,
            SIG_CATEGORY,
            Finding::Neutral,
            0.5,
            format!(
                "no categorised POI within {radius} of the phone ({} other); the map says nothing here",
                near.len()
            ),
        )
        .with_value(0.0);
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (p, _, _) in &categorised {
        *counts.entry(p.category.as_str()).or_insert(0) += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kinds = counts.iter().take(4).map(|(c, n)| format!("{c} ×{n}")).collect::<Vec<_>>().join(", ");
    let conf = (0.2 + 0.05 * categorised.len() as f32).min(0.6);
    Evidence::observed(
        K,
        SIG_CATEGORY,
        Finding::Concern,
        conf,
        format!(
            "none of the {} categorised POIs within {radius} of the phone is {want} ({kinds}; nearest {} at {})",
            categorised.len(),
            poi_label(first),
            fmt_dist(first_d)
        ),
    )
    .with_value(categorised.len() as f64)
    .at(at(first_t))
}

fn poi_label(p: &Poi) -> String {
    if p.name.is_empty() { format!("an unnamed {}", p.category) } else { format!("{:?} ({})", p.name, p.category) }
}

// ------------------------------------------------------------------------------------------------ declared POI

/// Legal-form and filler tokens dropped before comparing business names.
const NAME_STOPWORDS: &[&str] =
    &["oy", "oyj", "ab", "ky", "tmi", "ltd", "llc", "inc", "gmbh", "co", "corp", "the", "and", "ltda", "sa", "srl"];

/// Lower-case alphanumeric tokens without legal forms.
fn name_tokens(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty() && !NAME_STOPWORDS.contains(t))
        .map(str::to_owned)
        .collect()
}

/// Similarity of two business names in [0, 1]: Jaro-Winkler of the normalised names, or 0.9 when all tokens of the
/// shorter name (at least 4 characters in all) appear in the longer one ("Regatta" vs "Café Regatta").
pub(crate) fn name_similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (name_tokens(a), name_tokens(b));
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let (ja, jb) = (ta.join(" "), tb.join(" "));
    let jw = strsim::jaro_winkler(&ja, &jb);
    let (short, long) = if ta.len() <= tb.len() { (&ta, &tb) } else { (&tb, &ta) };
    let short_len: usize = short.iter().map(|t| t.chars().count()).sum();
    let contained = short_len >= 4 && short.iter().all(|t| long.contains(t));
    if contained { jw.max(0.9) } else { jw }
}

fn declared_poi_signal(
    declared: Option<&DeclaredBusiness>,
    declared_pos: Option<&Result<LatLon, String>>,
    index: Option<&PoiIndex>,
    cfg: &LocationConfig,
) -> Evidence {
    let (Some(declared), Some(pos)) = (declared, declared_pos) else {
        return Evidence::missing(K, SIG_DECLARED_POI, "no declared business");
    };
    let pos = match pos {
        Ok(p) => *p,
        Err(e) => return Evidence::unavailable(K, SIG_DECLARED_POI, format!("declared coordinates invalid: {e}")),
    };
    let Some(index) = index else {
        return Evidence::unavailable(K, SIG_DECLARED_POI, "no POI index loaded");
    };
    let radius = fmt_dist(cfg.declared_poi_radius_m);
    let best = index
        .nearby(pos, cfg.declared_poi_radius_m)
        .into_iter()
        .filter(|(p, _)| !p.name.is_empty())
        .map(|(p, d)| (p, d, name_similarity(&declared.name, &p.name)))
        .max_by(|a, b| a.2.total_cmp(&b.2).then(b.1.total_cmp(&a.1)));
    match best {
        Some((p, d, sim)) if sim >= cfg.name_similarity_min => {
            let want = declared.category.trim();
            if p.category == want || p.category == OTHER || !categories::is_business_category(want) {
                Evidence::observed(
                    K,
                    SIG_DECLARED_POI,
                    Finding::Supports,
                    (0.4 + 0.5 * sim) as f32,
                    format!(
                        "the map has {} {} from the declared coordinates (name similarity {sim:.2})",
                        poi_label(p),
                        fmt_dist(d)
                    ),
                )
                .with_value(sim)
            } else {
                Evidence::observed(
                    K,
                    SIG_DECLARED_POI,
                    Finding::Concern,
                    0.4,
                    format!(
                        "the map has {} {} from the declared coordinates (name similarity {sim:.2}), \
                         but it is mapped as {}, not the declared {want}",
                        poi_label(p),
                        fmt_dist(d),
                        p.category
                    ),
                )
                .with_value(sim)
            }
        }
        Some((p, _, sim)) => Evidence::observed(
            K,
            SIG_DECLARED_POI,
            Finding::Neutral,
            0.5,
            format!(
                "no POI named like {:?} within {radius} of the declared coordinates (closest name {:?}, similarity \
                 {sim:.2})",
                declared.name, p.name
            ),
        )
        .with_value(sim),
        None => Evidence::observed(
            K,
            SIG_DECLARED_POI,
            Finding::Neutral,
            0.5,
            format!("no named POI within {radius} of the declared coordinates"),
        )
        .with_value(0.0),
    }
}

// ------------------------------------------------------------------------------------------------ travel

fn travel_signal(n_reports: usize, fixes: &[&Fix], cfg: &LocationConfig) -> Evidence {
    if fixes.len() < 2 {
        let why = if n_reports == 0 {
            "no location report".to_owned()
        } else {
            format!("needs two valid fixes, have {}", fixes.len())
        };
        return Evidence::missing(K, SIG_TRAVEL, why);
    }
    struct Leg {
        from: MediaTime,
        to: MediaTime,
        d: f64,
        dt: f64,
        kmh: f64,
    }
    let mut legs = Vec::with_capacity(fixes.len() - 1);
    for w in fixes.windows(2) {
        let (a, b) = (w[0], w[1]);
        let d = geo::haversine_m(a.pos, b.pos);
        let slack = a.accuracy(cfg) + b.accuracy(cfg);
        let eff = (d - slack).max(0.0);
        // Same timestamp: treat as one millisecond so the speed stays finite (and huge).
        let dt = b.t.since(a.t).as_secs_f64().max(0.001);
        legs.push(Leg { from: a.t, to: b.t, d: eff, dt, kmh: eff / dt * 3.6 });
    }
    let top = legs.iter().map(|l| l.kmh).fold(0.0, f64::max);
    let bad: Vec<&Leg> = legs.iter().filter(|l| l.d >= cfg.min_jump_m && l.kmh > cfg.max_speed_kmh).collect();
    let Some(worst) = bad.iter().max_by(|a, b| a.kmh.total_cmp(&b.kmh)) else {
        return Evidence::observed(
            K,
            SIG_TRAVEL,
            Finding::Neutral,
            0.7,
            format!(
                "{} fixes; fastest movement {top:.0} km/h after subtracting accuracies (limit {:.0} km/h)",
                fixes.len(),
                cfg.max_speed_kmh
            ),
        )
        .with_value(top);
    };
    let conf = if worst.kmh > 3.0 * cfg.max_speed_kmh { 0.9 } else { 0.7 };
    let mut ev = Evidence::observed(
        K,
        SIG_TRAVEL,
        Finding::Concern,
        conf,
        format!(
            "impossible travel: {} in {:.1} s ({:.0} km/h, limit {:.0} km/h) between fixes at {} and {}{}",
            fmt_dist(worst.d),
            worst.dt,
            worst.kmh,
            cfg.max_speed_kmh,
            worst.from,
            worst.to,
            if bad.len() > 1 { format!("; {} such jumps", bad.len()) } else { String::new() }
        ),
    )
    .with_value(top);
    for l in bad.iter().take(MAX_REFS) {
        ev = ev.at(span(l.from, l.to));
    }
    ev
}

// ------------------------------------------------------------------------------------------------ mock

/// An accuracy with more than one decimal (3.9000000953674316, 12.34): identical values of this kind over many fixes
/// come from a generator, not a receiver (iOS reports round values such as 65 or 10 repeatedly; those are allowed).
fn is_fine_grained(a: f64) -> bool {
    let x = a * 10.0;
    (x - x.round()).abs() > 1e-9
}

fn mock_signal(fixes: &[Fix], cfg: &LocationConfig) -> Evidence {
    if fixes.is_empty() {
        return Evidence::missing(K, SIG_MOCK, "no valid location fix to check for mock-location patterns");
    }
    let mut patterns: Vec<(String, f32, Vec<MediaTime>)> = Vec::new();

    let mock_src: Vec<&Fix> = fixes.iter().filter(|f| f.source_in(&cfg.mock_sources)).collect();
    if let Some(f) = mock_src.first() {
        patterns.push((
            format!(
                "{} fixes from a mock provider (source {:?})",
                mock_src.len(),
                f.report.source.as_deref().unwrap_or("")
            ),
            0.95,
            mock_src.iter().map(|f| f.t).collect(),
        ));
    }
    let null: Vec<MediaTime> = fixes.iter().filter(|f| f.pos.is_null_island()).map(|f| f.t).collect();
    if !null.is_empty() {
        patterns.push((format!("{} fixes at (0, 0) \"null island\"", null.len()), 0.9, null));
    }
    let zero: Vec<MediaTime> = fixes.iter().filter(|f| f.report.accuracy_m == Some(0.0)).map(|f| f.t).collect();
    if !zero.is_empty() {
        patterns.push((format!("{} of {} fixes report accuracy 0 m", zero.len(), fixes.len()), 0.8, zero));
    }
    let accs: Vec<f64> = fixes.iter().filter_map(|f| f.report.accuracy_m).collect();
    if let Some(&a0) = accs.first()
        && accs.len() >= cfg.mock_min_fixes.max(2)
        && a0 > 0.0
        && is_fine_grained(a0)
        && accs.iter().all(|a| a.to_bits() == a0.to_bits())
    {
        patterns.push((format!("all {} accuracies are identical ({a0} m)", accs.len()), 0.6, Vec::new()));
    }
    let mut groups: HashMap<(u64, u64), Vec<MediaTime>> = HashMap::new();
    for f in fixes {
        groups.entry((f.report.lat.to_bits(), f.report.lon.to_bits())).or_default().push(f.t);
    }
    if let Some(times) = groups
        .into_values()
        .filter(|g| g.len() >= cfg.mock_min_fixes.max(2))
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.first().cmp(&a.first())))
    {
        patterns.push((
            format!("{} of {} fixes repeat exactly the same coordinates", times.len(), fixes.len()),
            0.6,
            times,
        ));
    }

    if patterns.is_empty() {
        return Evidence::observed(
            K,
            SIG_MOCK,
            Finding::Neutral,
            0.5,
            format!("no mock-location pattern in {} fixes", fixes.len()),
        )
        .with_value(0.0);
    }
    let conf = patterns.iter().map(|p| p.1).fold(0.0, f32::max);
    let summary =
        format!("mock-location pattern: {}", patterns.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join("; "));
    let mut times: Vec<MediaTime> = patterns.iter().flat_map(|p| p.2.iter().copied()).collect();
    times.sort();
    times.dedup();
    let mut ev = Evidence::observed(K, SIG_MOCK, Finding::Concern, conf, summary).with_value(patterns.len() as f64);
    for t in times.into_iter().take(MAX_REFS) {
        ev = ev.at(at(t));
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_names_match_fuzzily() {
        // (a, b, lowest, highest)
        let cases = [
            ("Café Regatta", "Regatta", 0.9, 1.0),             // token containment
            ("Kampin Parturi Oy", "kampin parturi", 1.0, 1.0), // case and legal form ignored
            ("Cafe Regatta", "Café Regatta", 0.85, 1.0),       // accent: Jaro-Winkler still high
            ("Fazer Café", "Hesburger", 0.0, 0.7),
            ("", "Hesburger", 0.0, 0.0),
        ];
        for (a, b, lo, hi) in cases {
            let s = name_similarity(a, b);
            assert!((lo..=hi).contains(&s), "{a:?} vs {b:?}: {s}");
        }
    }

    #[test]
    fn fine_grained_accuracies() {
        assert!(is_fine_grained(3.9000000953674316));
        assert!(is_fine_grained(12.34));
        assert!(!is_fine_grained(65.0));
        assert!(!is_fine_grained(4.7));
    }
}
