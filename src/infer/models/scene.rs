//! Scene/background classifier: EfficientNet-Lite0 over ImageNet-1k (converted from PyTorch; see
//! `models/convert/NOTES-torch.md`), plus a mapping of ImageNet classes to business/scene categories
//! (`models/scene_categories.toml`).
//!
//! Pre: resize (bilinear, antialiased when shrinking, as Pillow does) so the short side is 256 (long side
//! `floor(256*long/short)`), centre crop 224x224 (offset `round((side-224)/2)`, ties to even as Python rounds), RGB,
//! `(x/255 - 0.5)/0.5`, NCHW `[1,3,224,224]`. Post: softmax over the 1000 logits; names from
//! `converted/imagenet_labels.txt` (line `i` = class `i`). Categories sum the probabilities of their classes.

use super::{output_f32, read_labels, softmax, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, resize, to_nchw, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const MODEL_ID: &str = "scene";
/// The label file, relative to the models directory.
pub const LABELS_FILE: &str = "converted/imagenet_labels.txt";
/// The category mapping, relative to the models directory.
pub const CATEGORIES_FILE: &str = "scene_categories.toml";
const NUM_CLASSES: usize = 1000;
const RESIZE_SHORT: f32 = 256.0;
const CROP: u32 = 224;
const INPUT: &str = "image";
const OUTPUT: &str = "logits";

/// One ImageNet class with its softmax probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneClass {
    pub class_id: u32,
    pub label: String,
    pub prob: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: BTreeMap<String, CategoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    classes: Vec<String>,
}

pub struct SceneClassifier {
    model: LoadedModel,
    labels: Vec<String>,
    /// Category names, in file (alphabetical) order.
    categories: Vec<String>,
    /// For each class id, the index of its category, if any.
    category_of: Vec<Option<usize>>,
}

impl SceneClassifier {
    /// Loads the checked model, its labels and the category mapping; an unknown label in the mapping is an error.
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let dir = &rt.manifest().models_dir;
        let labels = read_labels(MODEL_ID, &dir.join(LABELS_FILE), NUM_CLASSES)?;
        let (categories, category_of) = load_categories(&dir.join(CATEGORIES_FILE), &labels)?;
        Ok(SceneClassifier { model, labels, categories, category_of })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The `top_k` most probable ImageNet classes, best first.
    pub fn classify(&mut self, frame: &RgbFrame, top_k: usize) -> Result<Vec<SceneClass>, InferError> {
        let input = model_input(frame)?;
        let mut buf = Vec::with_capacity((CROP * CROP * 3) as usize);
        to_nchw(&input, Channels::Rgb, |v| (v / 255.0 - 0.5) / 0.5, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, 3, CROP as i64, CROP as i64], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (shape, mut probs) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if probs.len() != NUM_CLASSES {
            return Err(InferError::output(MODEL_ID, format!("output shape {shape:?}, expected [1, {NUM_CLASSES}]")));
        }
        if probs.iter().any(|p| !p.is_finite()) {
            return Err(InferError::output(MODEL_ID, "non-finite logits"));
        }
        softmax(&mut probs);
        let mut order: Vec<usize> = (0..NUM_CLASSES).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        Ok(order
            .into_iter()
            .take(top_k)
            .map(|i| SceneClass { class_id: i as u32, label: self.labels[i].clone(), prob: probs[i] })
            .collect())
    }

    /// Sums the probabilities of `classes` per category (`models/scene_categories.toml`), most probable first;
    /// categories none of the classes belong to are left out. Pass a larger `top_k` to `classify` for fuller sums.
    pub fn categories(&self, classes: &[SceneClass]) -> Vec<(String, f32)> {
        let mut sums: BTreeMap<usize, f32> = BTreeMap::new();
        for c in classes {
            if let Some(Some(cat)) = self.category_of.get(c.class_id as usize) {
                *sums.entry(*cat).or_default() += c.prob;
            }
        }
        let mut out: Vec<(String, f32)> = sums.into_iter().map(|(cat, p)| (self.categories[cat].clone(), p)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// The category names in the mapping file.
    pub fn category_names(&self) -> &[String] {
        &self.categories
    }
}

/// Sizes for "short side to 256, then centre crop 224": `(resized_w, resized_h, left, top)`.
fn resize_plan(w: u32, h: u32) -> (u32, u32, u32, u32) {
    let (wf, hf) = (w as f32, h as f32);
    let short = wf.min(hf).max(1.0);
    let rw = ((RESIZE_SHORT * wf / short).floor() as u32).max(CROP);
    let rh = ((RESIZE_SHORT * hf / short).floor() as u32).max(CROP);
    let left = ((rw - CROP) as f32 / 2.0).round_ties_even() as u32;
    let top = ((rh - CROP) as f32 / 2.0).round_ties_even() as u32;
    (rw, rh, left, top)
}

/// The 224x224 model input: resize (antialiased, see [`crate::analysis::image::resize`]) then centre crop.
fn model_input(frame: &RgbFrame) -> Result<RgbFrame, InferError> {
    let (rw, rh, left, top) = resize_plan(frame.width, frame.height);
    let resized = resize(frame, rw, rh).ok_or_else(|| InferError::input(MODEL_ID, "empty frame or resize target"))?;
    let whole = Rect { x: left as f32, y: top as f32, w: CROP as f32, h: CROP as f32 };
    // An integer-offset crop at scale 1: the warp copies pixels exactly.
    Ok(warp(&resized, CROP, CROP, &Affine::crop(&whole, CROP, CROP)))
}

/// Parses the category mapping against the labels: category names, and each class's category index.
fn load_categories(path: &Path, labels: &[String]) -> Result<(Vec<String>, Vec<Option<usize>>), InferError> {
    let bad = |detail: String| InferError::BadFile { id: MODEL_ID.to_owned(), path: path.to_owned(), detail };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InferError::Missing { id: MODEL_ID.to_owned(), path: path.to_owned() });
        }
        Err(e) => return Err(bad(format!("cannot read the scene categories: {e}"))),
    };
    parse_categories(&text, labels).map_err(bad)
}

fn parse_categories(text: &str, labels: &[String]) -> Result<(Vec<String>, Vec<Option<usize>>), String> {
    let file: CategoryFile = toml::from_str(text).map_err(|e| format!("malformed scene categories: {e}"))?;
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, l) in labels.iter().enumerate() {
        by_name.entry(l.as_str()).or_default().push(i);
    }
    let mut names = Vec::with_capacity(file.category.len());
    let mut category_of: Vec<Option<usize>> = vec![None; labels.len()];
    for (cat, (name, entry)) in file.category.into_iter().enumerate() {
        for class in &entry.classes {
            let ids = by_name.get(class.as_str()).ok_or_else(|| {
                format!("category `{name}` lists `{class}`, which is not an ImageNet label in the label file")
            })?;
            for &id in ids {
                if let Some(prev) = category_of[id] {
                    let other = names.get(prev).map_or(name.as_str(), String::as_str);
                    return Err(format!("`{class}` is listed in both `{other}` and `{name}`"));
                }
                category_of[id] = Some(cat);
            }
        }
        names.push(name);
    }
    Ok((names, category_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["espresso", "cup", "tabby", "monitor"].map(String::from).to_vec()
    }

    #[test]
    fn resize_plan_matches_the_reference_recipe() {
        // coffee.png 600x400 -> 384x256, left = round(80) = 80, top = round(16) = 16.
        assert_eq!(resize_plan(600, 400), (384, 256, 80, 16));
        // chelsea.png 451x300 -> floor(384.85) = 384; 300x451 the other way round.
        assert_eq!(resize_plan(451, 300), (384, 256, 80, 16));
        assert_eq!(resize_plan(300, 451), (256, 384, 16, 80));
        // Python rounds ties to even: (257 - 224) / 2 = 16.5 -> 16.
        assert_eq!(resize_plan(257, 256).2, 16);
        let small = model_input(&RgbFrame::filled(10, 7, [1, 2, 3])).unwrap();
        assert_eq!((small.width, small.height), (224, 224));
        assert_eq!(small.pixel(100, 100), [1, 2, 3]);
        let bad = RgbFrame { width: 4, height: 4, data: vec![0; 5] };
        assert!(model_input(&bad).is_err());
    }

    #[test]
    fn categories_sum_probabilities_and_reject_unknown_labels() {
        let text = r#"
[category.cafe]
classes = ["espresso", "cup"]
[category.screen]
description = "displays"
classes = ["monitor"]
"#;
        let (names, of) = parse_categories(text, &labels()).unwrap();
        assert_eq!(names, ["cafe", "screen"]);
        assert_eq!(of, [Some(0), Some(0), None, Some(1)]);

        let bad = parse_categories("[category.x]\nclasses = [\"espreso\"]", &labels());
        assert!(bad.unwrap_err().contains("espreso"));
        let twice = parse_categories("[category.a]\nclasses = [\"cup\"]\n[category.b]\nclasses = [\"cup\"]", &labels());
        assert!(twice.unwrap_err().contains("both"));
    }
}
