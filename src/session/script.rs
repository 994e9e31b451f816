//! The interview script of a live call, scheduled on the media clock: questions shown one after another for their
//! duration, then the liveness challenges, each once the face is in view, then done. Pure: the session actor
//! calls [`Schedule::poll`] with the latest media time and whether a face is visible, and gets the actions to send
//! to the page; the questions and challenges it issued become the session file's `questions` and `challenges`.
//!
//! May use `types` and `interview`; no clock, no I/O.

use crate::adapt::Need;
use crate::interview::{ChallengeEvent, ChallengeKind, QuestionEvent};
use crate::types::{MediaDuration, MediaTime};
use serde::{Deserialize, Serialize};

/// A question as the lender scripts it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionSpec {
    pub id: String,
    pub text: String,
    /// How long the question stays on screen (the applicant's time to answer), 3..=120 s.
    #[serde(default = "default_question_s")]
    pub duration_s: f64,
    /// What the answer is about, for bitrate adaptation: `speech` (default) or `scene` (the applicant shows the
    /// place: resolution over frame rate).
    #[serde(default)]
    pub focus: QuestionFocus,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionFocus {
    #[default]
    Speech,
    Scene,
}

fn default_question_s() -> f64 {
    10.0
}

/// A challenge kind as the lender scripts it; the server draws the digits of `read_digits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKindSpec {
    TurnLeft,
    TurnRight,
    Blink,
    OpenMouth,
    ReadDigits,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSpec {
    pub kind: ChallengeKindSpec,
    /// Time allowed to answer (default 4000 ms for movements, 5000 ms for digits).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    #[serde(default)]
    pub questions: Vec<QuestionSpec>,
    #[serde(default)]
    pub challenges: Vec<ChallengeSpec>,
}

impl Default for ScriptSpec {
    fn default() -> Self {
        ScriptSpec {
            questions: vec![
                QuestionSpec {
                    id: "q1".into(),
                    text: "Please tell us your name and what your business does.".into(),
                    duration_s: 10.0,
                    focus: QuestionFocus::Speech,
                },
                QuestionSpec {
                    id: "q2".into(),
                    text: "Please show us where you are: turn the camera to your shop or workplace, then back to you."
                        .into(),
                    duration_s: 10.0,
                    focus: QuestionFocus::Scene,
                },
            ],
            challenges: vec![
                ChallengeSpec { kind: ChallengeKindSpec::TurnLeft, deadline_ms: None },
                ChallengeSpec { kind: ChallengeKindSpec::ReadDigits, deadline_ms: None },
            ],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScriptError {
    #[error("the script has {0} questions; at most {MAX_ITEMS} are allowed")]
    TooManyQuestions(usize),
    #[error("the script has {0} challenges; at most {MAX_ITEMS} are allowed")]
    TooManyChallenges(usize),
    #[error("question `{0}`: duration must be between 3 and 120 s")]
    Duration(String),
    #[error("question `{0}`: id must be 1-32 of A-Z a-z 0-9 _ - and text 1-500 characters")]
    Question(String),
    #[error("question id `{0}` is used twice")]
    DuplicateId(String),
    #[error("challenge deadline must be between 1000 and 15000 ms")]
    Deadline,
}

pub const MAX_ITEMS: usize = 20;

impl ScriptSpec {
    pub fn validate(&self) -> Result<(), ScriptError> {
        if self.questions.len() > MAX_ITEMS {
            return Err(ScriptError::TooManyQuestions(self.questions.len()));
        }
        if self.challenges.len() > MAX_ITEMS {
            return Err(ScriptError::TooManyChallenges(self.challenges.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for q in &self.questions {
            let id_ok = !q.id.is_empty()
                && q.id.len() <= 32
                && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !id_ok || q.text.trim().is_empty() || q.text.chars().count() > 500 {
                return Err(ScriptError::Question(q.id.chars().take(32).collect()));
            }
            if !(3.0..=120.0).contains(&q.duration_s) {
                return Err(ScriptError::Duration(q.id.clone()));
            }
            if !seen.insert(q.id.clone()) {
                return Err(ScriptError::DuplicateId(q.id.clone()));
            }
        }
        if self.challenges.iter().any(|c| c.deadline_ms.is_some_and(|d| !(1000..=15000).contains(&d))) {
            return Err(ScriptError::Deadline);
        }
        Ok(())
    }

    /// Media time the script takes when every challenge starts on time.
    pub fn nominal_duration(&self) -> MediaDuration {
        let q: f64 = self.questions.iter().map(|q| q.duration_s).sum();
        let c: u64 = self.challenges.iter().map(|c| deadline(c) + CHALLENGE_GAP_MS).sum();
        MediaDuration::from_millis(LEAD_IN_MS + (q * 1000.0) as u64 + c)
    }
}

fn deadline(c: &ChallengeSpec) -> u64 {
    c.deadline_ms.unwrap_or(match c.kind {
        ChallengeKindSpec::ReadDigits => 5000,
        _ => 4000,
    })
}

/// Time from the first media to the first question (the applicant settles, the face is found).
pub const LEAD_IN_MS: u64 = 2000;
/// Pause after each challenge's deadline before the next item.
pub const CHALLENGE_GAP_MS: u64 = 1000;
/// How long a challenge waits for a face before it is issued anyway (and then fails on its own evidence).
pub const FACE_WAIT_MS: u64 = 5000;
/// How long before the first challenge the adaptation controller is told to get ready for it.
pub const PREPARE_MS: u64 = 4000;

/// What the page must show now.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptAction {
    Ask { question: QuestionEvent, index: usize, total: usize },
    Challenge { challenge: ChallengeEvent, text: String },
    Done,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    LeadIn,
    Question(usize),
    WaitFace { challenge: usize, since: MediaTime },
    Challenge(usize),
    Done,
}

/// The script being played. `digits` holds one drawn digit string per `read_digits` challenge, in order.
#[derive(Clone, Debug)]
pub struct Schedule {
    spec: ScriptSpec,
    digits: Vec<String>,
    step: Step,
    /// Media time the current step started.
    step_start: Option<MediaTime>,
    origin: Option<MediaTime>,
    questions: Vec<QuestionEvent>,
    challenges: Vec<ChallengeEvent>,
}

impl Schedule {
    pub fn new(spec: ScriptSpec, digits: Vec<String>) -> Self {
        Schedule {
            spec,
            digits,
            step: Step::LeadIn,
            step_start: None,
            origin: None,
            questions: Vec::new(),
            challenges: Vec::new(),
        }
    }

    /// What the current step needs from the picture at media time `now` (for the adaptation controller). The
    /// last seconds before the challenges already ask for the challenge's floor ([`Need::Face`]), so the phone's
    /// bandwidth estimate has time to climb and the first challenge frames arrive at the right size and rate.
    pub fn need(&self, now: MediaTime) -> Need {
        let challenge_next = match &self.step {
            Step::LeadIn => self.spec.questions.is_empty(),
            Step::Question(i) => *i + 1 == self.spec.questions.len(),
            _ => false,
        };
        if challenge_next && !self.spec.challenges.is_empty() {
            let ends = match &self.step {
                Step::Question(i) => self.spec.questions[*i].duration_s * 1000.0,
                _ => LEAD_IN_MS as f64,
            };
            let start = self.step_start.or(self.origin).unwrap_or(now);
            let elapsed = now.since(start).0 as f64 / 1e6;
            if ends - elapsed <= PREPARE_MS as f64 {
                return Need::Face;
            }
        }
        match &self.step {
            Step::LeadIn => Need::Identity,
            Step::Question(i) => match self.spec.questions[*i].focus {
                QuestionFocus::Speech => Need::Speech,
                QuestionFocus::Scene => Need::Scene,
            },
            Step::WaitFace { .. } => Need::Face,
            Step::Challenge(i) => match self.spec.challenges[*i].kind {
                ChallengeKindSpec::ReadDigits => Need::LivenessSpeech,
                _ => Need::Liveness,
            },
            Step::Done => Need::Idle,
        }
    }

    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// The questions asked so far (the last one's `until` is set when the next item starts).
    pub fn questions(&self) -> &[QuestionEvent] {
        &self.questions
    }

    pub fn challenges(&self) -> &[ChallengeEvent] {
        &self.challenges
    }

    /// (elapsed, nominal total) in seconds, for the page's progress bar.
    pub fn progress(&self, now: MediaTime) -> (f64, f64) {
        let elapsed = self.origin.map(|o| now.since(o).as_secs_f64()).unwrap_or(0.0);
        let total = self.spec.nominal_duration().as_secs_f64();
        (elapsed.min(total.max(elapsed)), total)
    }

    /// Advances the script to media time `now`; returns what to show. Call it whenever media time moves.
    pub fn poll(&mut self, now: MediaTime, face_visible: bool) -> Vec<ScriptAction> {
        let mut out = Vec::new();
        let origin = *self.origin.get_or_insert(now);
        self.step_start.get_or_insert(origin);
        // Loop because a step may end at once (a challenge whose face is already visible).
        for _ in 0..(2 * MAX_ITEMS + 4) {
            let start = self.step_start.unwrap_or(origin);
            let elapsed = now.since(start).0 / 1_000_000;
            let next = match &self.step {
                Step::LeadIn if elapsed >= LEAD_IN_MS => Some(self.after_lead_in()),
                Step::Question(i) if elapsed as f64 >= self.spec.questions[*i].duration_s * 1000.0 => {
                    Some(self.after_question(*i))
                }
                Step::WaitFace { challenge, since } => {
                    let waited = now.since(*since).0 / 1_000_000;
                    (face_visible || waited >= FACE_WAIT_MS).then_some(Step::Challenge(*challenge))
                }
                Step::Challenge(i) if elapsed >= deadline(&self.spec.challenges[*i]) + CHALLENGE_GAP_MS => {
                    Some(self.challenge_step(i + 1, now))
                }
                _ => None,
            };
            let Some(next) = next else { break };
            self.enter(next, now, &mut out);
            if self.step == Step::Done {
                break;
            }
        }
        out
    }

    fn after_lead_in(&self) -> Step {
        if self.spec.questions.is_empty() { self.challenge_step(0, MediaTime(0)) } else { Step::Question(0) }
    }

    fn after_question(&self, i: usize) -> Step {
        if i + 1 < self.spec.questions.len() { Step::Question(i + 1) } else { self.challenge_step(0, MediaTime(0)) }
    }

    fn challenge_step(&self, i: usize, now: MediaTime) -> Step {
        if i < self.spec.challenges.len() { Step::WaitFace { challenge: i, since: now } } else { Step::Done }
    }

    fn enter(&mut self, step: Step, now: MediaTime, out: &mut Vec<ScriptAction>) {
        // The open question ends where the next item starts.
        if let Some(q) = self.questions.last_mut()
            && q.until.is_none()
        {
            q.until = Some(now);
        }
        let step = match step {
            Step::WaitFace { challenge, .. } => Step::WaitFace { challenge, since: now },
            s => s,
        };
        match &step {
            Step::Question(i) => {
                let q = &self.spec.questions[*i];
                let ev = QuestionEvent { id: q.id.clone(), text: q.text.clone(), asked_at: now, until: None };
                self.questions.push(ev.clone());
                out.push(ScriptAction::Ask { question: ev, index: i + 1, total: self.spec.questions.len() });
            }
            Step::Challenge(i) => {
                let c = &self.spec.challenges[*i];
                let n_digits = self.spec.challenges[..*i].iter().filter(|c| c.kind == ChallengeKindSpec::ReadDigits);
                let kind = match c.kind {
                    ChallengeKindSpec::TurnLeft => ChallengeKind::TurnLeft,
                    ChallengeKindSpec::TurnRight => ChallengeKind::TurnRight,
                    ChallengeKindSpec::Blink => ChallengeKind::Blink,
                    ChallengeKindSpec::OpenMouth => ChallengeKind::OpenMouth,
                    ChallengeKindSpec::ReadDigits => ChallengeKind::ReadDigits {
                        digits: self.digits.get(n_digits.count()).cloned().unwrap_or_else(|| "0000".into()),
                    },
                };
                let text = instruction(&kind);
                let ev = ChallengeEvent { id: format!("c{}", i + 1), kind, issued_at: now, deadline_ms: deadline(c) };
                self.challenges.push(ev.clone());
                out.push(ScriptAction::Challenge { challenge: ev, text });
            }
            Step::Done => out.push(ScriptAction::Done),
            Step::LeadIn | Step::WaitFace { .. } => {}
        }
        self.step = step;
        self.step_start = Some(now);
    }
}

/// What the page tells the applicant to do.
pub fn instruction(kind: &ChallengeKind) -> String {
    match kind {
        ChallengeKind::TurnLeft => "Slowly turn your head to the left, then back".into(),
        ChallengeKind::TurnRight => "Slowly turn your head to the right, then back".into(),
        ChallengeKind::Blink => "Blink twice".into(),
        ChallengeKind::OpenMouth => "Open your mouth wide, then close it".into(),
        ChallengeKind::ReadDigits { digits } => {
            let spaced: Vec<String> = digits.chars().map(|c| c.to_string()).collect();
            format!("Read these digits aloud: {}", spaced.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> MediaTime {
        MediaTime(x * 1_000_000)
    }

    fn run(spec: ScriptSpec, face: impl Fn(u64) -> bool) -> (Schedule, Vec<(u64, ScriptAction)>) {
        let mut s = Schedule::new(spec, vec!["4071".into()]);
        let mut all = Vec::new();
        // Media starts at 1.3 s (the first packet's running time), polled every 100 ms.
        for t in (1300..120_000).step_by(100) {
            for a in s.poll(ms(t), face(t)) {
                all.push((t, a));
            }
            if s.is_done() {
                break;
            }
        }
        (s, all)
    }

    #[test]
    fn default_script_plays_questions_then_challenges_then_done() {
        let (s, all) = run(ScriptSpec::default(), |_| true);
        let kinds: Vec<String> = all
            .iter()
            .map(|(t, a)| match a {
                ScriptAction::Ask { question, .. } => format!("{t}:ask {}", question.id),
                ScriptAction::Challenge { challenge, .. } => format!("{t}:challenge {}", challenge.id),
                ScriptAction::Done => format!("{t}:done"),
            })
            .collect();
        assert_eq!(kinds, ["3300:ask q1", "13300:ask q2", "23300:challenge c1", "28300:challenge c2", "34300:done"]);
        assert_eq!(s.questions()[0].until, Some(ms(13300)));
        assert_eq!(s.questions()[1].until, Some(ms(23300)));
        assert_eq!(s.challenges()[1].kind, ChallengeKind::ReadDigits { digits: "4071".into() });
        assert_eq!(s.challenges()[1].deadline_ms, 5000);
        // Nominal length matches what was played from the first media.
        assert_eq!(s.spec.nominal_duration(), MediaDuration::from_millis(34300 - 1300));
    }

    #[test]
    fn a_challenge_waits_for_the_face_but_not_forever() {
        // No face between 20 s and 24.9 s: the first challenge waits until the face is back.
        let (_, all) = run(ScriptSpec::default(), |t| !(20_000..24_900).contains(&t));
        let c1 = all.iter().find(|(_, a)| matches!(a, ScriptAction::Challenge { .. })).map(|(t, _)| *t);
        assert_eq!(c1, Some(24_900));
        // Never a face: issued after FACE_WAIT_MS anyway.
        let (_, all) = run(ScriptSpec::default(), |_| false);
        let c1 = all.iter().find(|(_, a)| matches!(a, ScriptAction::Challenge { .. })).map(|(t, _)| *t);
        assert_eq!(c1, Some(23_300 + FACE_WAIT_MS));
    }

    #[test]
    fn the_need_gets_ready_for_the_challenges_before_they_start() {
        // Default script from 1.3 s: q1 at 3.3 s, q2 at 13.3 s (10 s), challenges from 23.3 s.
        let mut s = Schedule::new(ScriptSpec::default(), vec!["1234".into()]);
        let mut needs = Vec::new();
        for t in (1300..=24_000).step_by(100) {
            s.poll(ms(t), true);
            needs.push((t, s.need(ms(t))));
        }
        let at = |t: u64| needs.iter().find(|(x, _)| *x == t).map(|(_, n)| *n).unwrap();
        assert_eq!(at(2000), Need::Identity);
        assert_eq!(at(10_000), Need::Speech, "the first question is not the last");
        assert_eq!(at(19_200), Need::Scene, "the second question shows the place");
        assert_eq!(at(19_300), Need::Face, "4 s before the first challenge");
        assert_eq!(at(23_200), Need::Face);
        assert!(matches!(at(23_300), Need::Liveness | Need::Face));
        // Nothing to prepare for in a script without challenges.
        let mut s = Schedule::new(ScriptSpec { challenges: vec![], ..ScriptSpec::default() }, vec![]);
        for t in [0, 2000, 12_000] {
            s.poll(ms(t), true);
        }
        assert_eq!(s.questions().len(), 2, "in the last question");
        assert_eq!(s.need(ms(20_000)), Need::Scene);
    }

    #[test]
    fn an_empty_script_is_done_after_the_lead_in() {
        let (_, all) = run(ScriptSpec { questions: vec![], challenges: vec![] }, |_| true);
        assert_eq!(all, vec![(3300, ScriptAction::Done)]);
    }

    #[test]
    fn a_coarse_poll_still_issues_every_item_in_order() {
        let mut s = Schedule::new(ScriptSpec::default(), vec!["1234".into()]);
        s.poll(ms(0), true);
        // A long stall (no media for 60 s) then one poll: the next item starts now, none is skipped.
        let actions = s.poll(ms(60_000), true);
        assert!(matches!(&actions[..], [ScriptAction::Ask { index: 1, .. }]), "{actions:?}");
        let actions = s.poll(ms(70_000), true);
        assert!(matches!(&actions[..], [ScriptAction::Ask { index: 2, .. }]), "{actions:?}");
    }

    #[test]
    fn validation_rejects_bad_scripts() {
        let mut spec = ScriptSpec::default();
        spec.questions[0].duration_s = 1.0;
        assert_eq!(spec.validate(), Err(ScriptError::Duration("q1".into())));
        let mut spec = ScriptSpec::default();
        spec.questions[1].id = "q1".into();
        assert_eq!(spec.validate(), Err(ScriptError::DuplicateId("q1".into())));
        let mut spec = ScriptSpec::default();
        spec.challenges[0].deadline_ms = Some(50);
        assert_eq!(spec.validate(), Err(ScriptError::Deadline));
        assert!(ScriptSpec::default().validate().is_ok());
    }
}
