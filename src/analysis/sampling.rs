//! The sampling policy: which decoded frame goes to which model, under a CPU budget, and what to shed when
//! inference falls behind. Pure: the caller passes the frame's media time, the current backlog and (live only)
//! measured costs; the policy returns a plan and keeps counts. Replay passes fixed cost estimates and no backlog,
//! so the same file always gives the same plan.

use crate::types::{MediaDuration, MediaTime};
use serde::{Deserialize, Serialize};

/// A per-frame vision task. Order is priority: earlier tasks are shed last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    FaceDetect,
    FaceMesh,
    Expression,
    FaceEmbed,
    AntiSpoof,
    Segmentation,
    Scene,
    Objects,
    Ocr,
}

impl Task {
    pub const ALL: [Task; 9] = [
        Task::FaceDetect,
        Task::FaceMesh,
        Task::Expression,
        Task::FaceEmbed,
        Task::AntiSpoof,
        Task::Segmentation,
        Task::Scene,
        Task::Objects,
        Task::Ocr,
    ];

    fn idx(self) -> usize {
        self as usize
    }

    /// Tasks that run on the face found by `FaceDetect` in the same frame.
    pub fn needs_face(self) -> bool {
        matches!(self, Task::FaceMesh | Task::Expression | Task::FaceEmbed | Task::AntiSpoof)
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::FaceDetect => "face_detect",
            Task::FaceMesh => "face_mesh",
            Task::Expression => "expression",
            Task::FaceEmbed => "face_embed",
            Task::AntiSpoof => "anti_spoof",
            Task::Segmentation => "segmentation",
            Task::Scene => "scene",
            Task::Objects => "objects",
            Task::Ocr => "ocr",
        }
    }
}

/// How often a task should run, how far it may be stretched under load, and its expected cost.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskPolicy {
    /// Target interval between runs (media time).
    pub interval_ms: u64,
    /// The interval is never stretched beyond this.
    pub max_interval_ms: u64,
    /// Expected single-core cost of one run, in ms (from `benches/`; live sessions refine it with measurements).
    pub cost_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Per-task policies, indexed like [`Task::ALL`].
    pub tasks: [TaskPolicy; 9],
    /// Inference budget in core-milliseconds per media second (1000 = one core in real time).
    pub budget_ms_per_s: f64,
    /// With this many frames waiting, whole frames are dropped.
    pub max_backlog: usize,
    /// With this many frames waiting, only face tasks run.
    pub shed_backlog: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        let p = |interval_ms, max_interval_ms, cost_ms| TaskPolicy { interval_ms, max_interval_ms, cost_ms };
        SamplingConfig {
            // Face detection + mesh at 10 fps resolve blinks (100-400 ms); the background changes slowly.
            // Costs: single-core ms measured by `cargo bench --bench models` (BENCHMARKS.md).
            tasks: [
                p(100, 250, 7.5),      // face_detect
                p(100, 250, 4.2),      // face_mesh
                p(200, 1000, 1.2),     // expression
                p(1000, 3000, 8.7),    // face_embed
                p(1000, 3000, 2.0),    // anti_spoof (operator model; MiniFASNet-sized estimate)
                p(1000, 5000, 4.6),    // segmentation
                p(2000, 10000, 10.2),  // scene
                p(2000, 10000, 50.0),  // objects
                p(5000, 20000, 226.0), // ocr
            ],
            budget_ms_per_s: 600.0,
            max_backlog: 8,
            shed_backlog: 4,
        }
    }
}

/// Counts per task, reported with the evidence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskStats {
    pub runs: u64,
    /// Due but shed because of backlog.
    pub shed: u64,
    /// The interval in force at the end, ms.
    pub interval_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingStats {
    pub frames_seen: u64,
    pub frames_analysed: u64,
    /// Whole frames dropped because the backlog was at `max_backlog`.
    pub frames_dropped: u64,
    pub tasks: std::collections::BTreeMap<String, TaskStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub tasks: Vec<Task>,
}

impl Plan {
    pub fn has(&self, t: Task) -> bool {
        self.tasks.contains(&t)
    }
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct Sampler {
    cfg: SamplingConfig,
    enabled: [bool; 9],
    last_run: [Option<MediaTime>; 9],
    cost_ms: [f64; 9],
    stretch: [f64; 9],
    stats: SamplingStats,
}

impl Sampler {
    pub fn new(cfg: SamplingConfig) -> Self {
        let cost_ms = std::array::from_fn(|i| cfg.tasks[i].cost_ms);
        let mut s = Sampler {
            cfg,
            enabled: [true; 9],
            last_run: [None; 9],
            cost_ms,
            stretch: [1.0; 9],
            stats: Default::default(),
        };
        s.fit_budget();
        s
    }

    /// Turns a task off (its model is unavailable); it is never planned and its cost leaves the budget.
    pub fn disable(&mut self, t: Task) {
        self.enabled[t.idx()] = false;
        self.fit_budget();
    }

    /// Refines a task's cost from a measurement (live sessions only; replay keeps the fixed estimates).
    pub fn record_cost(&mut self, t: Task, ms: f64) {
        if ms.is_finite() && ms >= 0.0 {
            let c = &mut self.cost_ms[t.idx()];
            *c = 0.8 * *c + 0.2 * ms;
            self.fit_budget();
        }
    }

    /// The interval in force for a task.
    pub fn interval(&self, t: Task) -> MediaDuration {
        MediaDuration::from_millis((self.cfg.tasks[t.idx()].interval_ms as f64 * self.stretch[t.idx()]) as u64)
    }

    /// Expected inference cost per media second with the intervals in force, core-ms.
    pub fn expected_load(&self) -> f64 {
        Task::ALL
            .iter()
            .filter(|t| self.enabled[t.idx()])
            .map(|&t| self.cost_ms[t.idx()] * 1000.0 / self.interval(t).0.max(1) as f64 * 1e6)
            .sum()
    }

    /// Stretches the intervals of the least important tasks until the expected load fits the budget, and relaxes
    /// them back when there is room.
    fn fit_budget(&mut self) {
        self.stretch = [1.0; 9];
        for &t in Task::ALL.iter().rev() {
            if self.expected_load() <= self.cfg.budget_ms_per_s {
                break;
            }
            let p = self.cfg.tasks[t.idx()];
            let max = p.max_interval_ms as f64 / p.interval_ms.max(1) as f64;
            // Stretch just enough to fit, up to the cap.
            let excess = self.expected_load() - self.cfg.budget_ms_per_s;
            let own = self.cost_ms[t.idx()] * 1000.0 / p.interval_ms.max(1) as f64;
            let wanted = if own > excess { own / (own - excess) } else { max };
            self.stretch[t.idx()] = wanted.clamp(1.0, max.max(1.0));
        }
    }

    /// Decides which tasks run on the frame at `pts`, given `backlog` frames waiting behind it.
    pub fn plan(&mut self, pts: MediaTime, backlog: usize) -> Plan {
        self.stats.frames_seen += 1;
        let mut plan = Plan::default();
        let mut shed = Vec::new();
        for &t in &Task::ALL {
            if !self.enabled[t.idx()] {
                continue;
            }
            let due = match self.last_run[t.idx()] {
                None => true,
                Some(last) => pts.since(last) >= self.interval(t) || pts < last,
            };
            if !due {
                continue;
            }
            let face_task = t == Task::FaceDetect || t.needs_face();
            if backlog >= self.cfg.max_backlog || (backlog >= self.cfg.shed_backlog && !face_task) {
                shed.push(t);
            } else {
                plan.tasks.push(t);
            }
        }
        // A face task without its detector on this frame has nothing to run on.
        if !plan.has(Task::FaceDetect) {
            plan.tasks.retain(|t| !t.needs_face());
        }
        if backlog >= self.cfg.max_backlog && !shed.is_empty() {
            self.stats.frames_dropped += 1;
        }
        for t in shed {
            self.entry(t).shed += 1;
        }
        for &t in &plan.tasks {
            self.last_run[t.idx()] = Some(pts);
            self.entry(t).runs += 1;
        }
        if !plan.is_empty() {
            self.stats.frames_analysed += 1;
        }
        plan
    }

    fn entry(&mut self, t: Task) -> &mut TaskStats {
        self.stats.tasks.entry(t.name().to_owned()).or_default()
    }

    pub fn stats(&self) -> SamplingStats {
        let mut s = self.stats.clone();
        for &t in &Task::ALL {
            if self.enabled[t.idx()] {
                let ms = self.interval(t).0 / 1_000_000;
                s.tasks.entry(t.name().to_owned()).or_default().interval_ms = ms;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(fps: u64, secs: u64) -> impl Iterator<Item = MediaTime> {
        (0..fps * secs).map(move |i| MediaTime(i * 1_000_000_000 / fps))
    }

    #[test]
    fn runs_each_task_at_its_interval_on_a_30fps_stream() {
        let cfg = SamplingConfig { budget_ms_per_s: 1e9, ..Default::default() }; // no budget pressure
        let mut s = Sampler::new(cfg);
        for t in frames(30, 10) {
            s.plan(t, 0);
        }
        let st = s.stats();
        assert_eq!(st.frames_seen, 300);
        assert_eq!(st.tasks["face_detect"].runs, 100, "10 fps");
        assert_eq!(st.tasks["expression"].runs, 50, "5 fps");
        assert_eq!(st.tasks["scene"].runs, 5);
        assert_eq!(st.tasks["ocr"].runs, 2);
        assert_eq!(st.frames_dropped, 0);
    }

    #[test]
    fn budget_stretches_low_priority_tasks_first() {
        let mut cfg = SamplingConfig { budget_ms_per_s: 150.0, ..Default::default() };
        let s = Sampler::new(cfg.clone());
        assert!(s.expected_load() <= 150.0 * 1.001, "load {}", s.expected_load());
        assert_eq!(s.interval(Task::FaceDetect), MediaDuration::from_millis(100), "face detection keeps its rate");
        assert!(s.interval(Task::Ocr) > MediaDuration::from_millis(5000));
        // A generous budget leaves every interval alone.
        cfg.budget_ms_per_s = 10_000.0;
        let s = Sampler::new(cfg);
        assert_eq!(s.interval(Task::Ocr), MediaDuration::from_millis(5000));
    }

    #[test]
    fn backlog_sheds_background_tasks_then_drops_frames() {
        let mut s = Sampler::new(SamplingConfig::default());
        let p = s.plan(MediaTime::ZERO, 5);
        assert!(p.has(Task::FaceDetect) && p.has(Task::FaceMesh));
        assert!(!p.has(Task::Scene) && !p.has(Task::Ocr));
        let p = s.plan(MediaTime::from_millis(100), 8);
        assert!(p.is_empty());
        let st = s.stats();
        assert_eq!(st.frames_dropped, 1);
        assert!(st.tasks["scene"].shed >= 2);
        // Shed tasks are still due on the next calm frame.
        let p = s.plan(MediaTime::from_millis(133), 0);
        assert!(p.has(Task::Scene) && p.has(Task::Ocr));
    }

    #[test]
    fn disabled_tasks_are_never_planned() {
        let mut s = Sampler::new(SamplingConfig::default());
        s.disable(Task::AntiSpoof);
        for t in frames(15, 3) {
            assert!(!s.plan(t, 0).has(Task::AntiSpoof));
        }
        assert!(!s.stats().tasks.contains_key("anti_spoof"));
    }

    #[test]
    fn same_timestamps_give_the_same_plan() {
        let run = || {
            let mut s = Sampler::new(SamplingConfig::default());
            frames(25, 4).map(|t| s.plan(t, 0).tasks).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
