//! Every query checked against a brute-force reading of its rules, on random
//! data rich in edge cases: duplicate scans, touching and overlapping stays of
//! one person, stays across midnight and partition boundaries, one-second and
//! day-long stays, check-out changes, expiry, batches out of time order.

use std::collections::{BTreeMap, BTreeSet};

use overlap::{ContactPairs, ContactRules, Engine, Sites, Stays, StoreOptions, Trace, TraceRules};
use proptest::prelude::*;

/// Midnight UTC, 2021-08-01: the partition boundary the data straddles.
const MIDNIGHT: i64 = 1_627_776_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stay {
    person: u64,
    venue: u64,
    t_in: i64,
    t_out: i64,
}

/// The model: what the engine should hold, by stay id.
#[derive(Debug, Default)]
struct Model {
    stays: BTreeMap<u64, Stay>,
    /// The latest expiry point: earlier check-ins are refused from then on.
    expired_before: Option<i64>,
}

fn unite(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = vec![];
    for (a, b) in v {
        if let Some(last) = out.last_mut() {
            if a <= last.1 {
                last.1 = last.1.max(b);
                continue;
            }
        }
        out.push((a, b));
    }
    out
}

impl Model {
    fn presence(&self, person: u64, venue: u64) -> Vec<(i64, i64)> {
        unite(
            self.stays
                .values()
                .filter(|s| s.person == person && s.venue == venue)
                .map(|s| (s.t_in, s.t_out))
                .collect(),
        )
    }

    /// Every person's presence at every venue.
    fn presences(&self) -> BTreeMap<(u64, u64), Vec<(i64, i64)>> {
        let mut all: BTreeMap<(u64, u64), Vec<(i64, i64)>> = BTreeMap::new();
        for s in self.stays.values() {
            all.entry((s.person, s.venue))
                .or_default()
                .push((s.t_in, s.t_out));
        }
        all.into_iter().map(|(k, v)| (k, unite(v))).collect()
    }

    fn persons(&self) -> BTreeSet<u64> {
        self.stays.values().map(|s| s.person).collect()
    }

    fn overlaps(&self, venue: u64, start: i64, end: i64) -> Stays {
        let mut out = Stays::default();
        for p in self.persons() {
            for (a, b) in self.presence(p, venue) {
                if a < end && b > start {
                    out.person.push(p);
                    out.t_in.push(a);
                    out.t_out.push(b);
                }
            }
        }
        out
    }

    fn case_presence(
        &self,
        case: u64,
        start: i64,
        end: i64,
        linger: i64,
    ) -> BTreeMap<u64, Vec<(i64, i64)>> {
        let mut pieces: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
        for s in self.stays.values().filter(|s| s.person == case) {
            let (a, b) = (s.t_in.max(start), s.t_out.min(end));
            if a < b {
                pieces.entry(s.venue).or_default().push((a, b + linger));
            }
        }
        pieces.into_iter().map(|(v, p)| (v, unite(p))).collect()
    }

    /// (person, exposure, first contact) for each contact, by person.
    fn contacts(
        &self,
        case: u64,
        start: i64,
        end: i64,
        rules: ContactRules,
    ) -> Vec<(u64, i64, i64)> {
        let presence = self.case_presence(case, start, end, rules.linger);
        let theirs = self.presences();
        let mut out = vec![];
        for o in self.persons().into_iter().filter(|&o| o != case) {
            let (mut exposure, mut first) = (0, i64::MAX);
            for (&venue, mine) in &presence {
                for &(a, b) in mine {
                    for &(c, d) in theirs.get(&(o, venue)).into_iter().flatten() {
                        let (lo, hi) = (a.max(c), b.min(d));
                        if lo < hi {
                            exposure += hi - lo;
                            first = first.min(lo);
                        }
                    }
                }
            }
            if exposure > 0 && exposure >= rules.min_overlap {
                out.push((o, exposure, first));
            }
        }
        out
    }

    fn contacts_many(&self, cases: &[(u64, i64, i64)], rules: ContactRules) -> ContactPairs {
        let mut sorted = cases.to_vec();
        sorted.sort_unstable();
        let mut out = ContactPairs::default();
        for (case, s, e) in sorted {
            for (p, x, f) in self.contacts(case, s, e, rules) {
                out.case.push(case);
                out.person.push(p);
                out.exposure.push(x);
                out.first_contact.push(f);
            }
        }
        out
    }

    fn sites(&self, cases: &[(u64, i64, i64)], linger: i64) -> Sites {
        let mut sorted = cases.to_vec();
        sorted.sort_unstable();
        let mut out = Sites::default();
        for (case, s, e) in sorted {
            for (venue, intervals) in self.case_presence(case, s, e, linger) {
                for (a, b) in intervals {
                    out.case.push(case);
                    out.venue.push(venue);
                    out.start.push(a);
                    out.end.push(b);
                }
            }
        }
        out
    }

    fn trace(&self, cases: &[(u64, i64, i64)], rules: TraceRules) -> Trace {
        let until = rules
            .until
            .unwrap_or_else(|| cases.iter().map(|c| c.2).max().unwrap());
        let mut out = Trace::default();
        let mut hop_of: BTreeMap<u64, u32> = BTreeMap::new();
        let mut frontier: Vec<(u64, i64, i64)> = cases.to_vec();
        frontier.sort_unstable();
        for &(c, s, _) in &frontier {
            hop_of.insert(c, 0);
            push(&mut out, c, 0, s, c, 0);
        }
        for hop in 1..=rules.hops {
            let mut best: BTreeMap<u64, (i64, u64, i64)> = BTreeMap::new();
            for &(q, s, e) in &frontier {
                if s >= e {
                    continue;
                }
                for (o, exposure, first) in self.contacts(q, s, e, rules.contact) {
                    if hop_of.contains_key(&o) {
                        continue;
                    }
                    let cand = (first, q, exposure);
                    let b = best.entry(o).or_insert(cand);
                    if (cand.0, cand.1) < (b.0, b.1) {
                        *b = cand;
                    }
                }
            }
            frontier = vec![];
            for (o, (at, src, x)) in best {
                hop_of.insert(o, hop);
                push(&mut out, o, hop, at, src, x);
                frontier.push((o, at + rules.latency, until));
            }
        }
        out
    }
}

fn push(t: &mut Trace, person: u64, hop: u32, at: i64, source: u64, exposure: i64) {
    t.person.push(person);
    t.hop.push(hop);
    t.exposed_at.push(at);
    t.source.push(source);
    t.exposure.push(exposure);
}

/// A stay near the midnight boundary: short, touching-prone, or very long.
fn stay() -> impl Strategy<Value = Stay> {
    let duration = prop_oneof![
        4 => 1i64..=3,
        8 => 60i64..=7_200,
        2 => 30_000i64..=40_000, // around the packed-duration limit
        2 => 43_200i64..=100_000, // forgotten check-outs
    ];
    (0u64..6, 0u64..4, -100_000i64..100_000, duration).prop_map(|(person, venue, at, d)| {
        // Coarse starts make touching and identical stays common.
        let t_in = MIDNIGHT + at / 600 * 600;
        Stay {
            person,
            venue,
            t_in,
            t_out: t_in + d,
        }
    })
}

fn window() -> impl Strategy<Value = (i64, i64)> {
    (-120_000i64..120_000, 1i64..150_000).prop_map(|(a, len)| {
        let start = MIDNIGHT + a / 300 * 300;
        (start, start + len)
    })
}

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<Stay>),
    /// Duplicate scans: the same stays again, as new stays.
    Rescan(Vec<prop::sample::Index>),
    Checkout(Vec<(prop::sample::Index, i64)>),
    Expire(i64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => prop::collection::vec(stay(), 0..25).prop_map(Op::Add),
        2 => prop::collection::vec(any::<prop::sample::Index>(), 1..5).prop_map(Op::Rescan),
        2 => prop::collection::vec((any::<prop::sample::Index>(), 1i64..90_000), 1..6).prop_map(Op::Checkout),
        1 => (-110_000i64..30_000).prop_map(|a| Op::Expire(MIDNIGHT + a)),
    ];
    prop::collection::vec(op, 1..8)
}

fn apply(engine: &Engine, model: &mut Model, op: &Op) {
    match op {
        Op::Add(batch) => add(engine, model, batch),
        Op::Rescan(picks) => {
            if model.stays.is_empty() {
                return;
            }
            let all: Vec<Stay> = model.stays.values().copied().collect();
            let batch: Vec<Stay> = picks.iter().map(|i| *i.get(&all)).collect();
            add(engine, model, &batch);
        }
        Op::Checkout(changes) => {
            if model.stays.is_empty() {
                return;
            }
            let ids: Vec<u64> = model.stays.keys().copied().collect();
            let (mut which, mut t_out) = (vec![], vec![]);
            for (i, d) in changes {
                let id = *i.get(&ids);
                which.push(id);
                t_out.push(model.stays[&id].t_in + d);
            }
            engine.set_checkout(&which, &t_out).unwrap();
            for (id, t) in which.iter().zip(t_out) {
                model.stays.get_mut(id).unwrap().t_out = t;
            }
        }
        Op::Expire(t) => {
            let before = model.stays.len();
            model.stays.retain(|_, s| s.t_in >= *t);
            model.expired_before = model.expired_before.max(Some(*t));
            assert_eq!(
                engine.expire_before(*t).unwrap(),
                before - model.stays.len()
            );
        }
    }
}

fn add(engine: &Engine, model: &mut Model, batch: &[Stay]) {
    let col = |f: fn(&Stay) -> i64| batch.iter().map(f).collect::<Vec<i64>>();
    let persons: Vec<u64> = batch.iter().map(|s| s.person).collect();
    let venues: Vec<u64> = batch.iter().map(|s| s.venue).collect();
    let added = engine.add_stays(&persons, &venues, &col(|s| s.t_in), &col(|s| s.t_out));
    let expired = |s: &Stay| model.expired_before.is_some_and(|t| s.t_in < t);
    if let Some(row) = batch.iter().position(expired) {
        assert!(
            matches!(added, Err(overlap::Error::InvalidStay { row: r, problem: overlap::StayProblem::Expired { .. } }) if r == row),
            "{added:?}"
        );
        return;
    }
    let ids = added.unwrap();
    for (id, s) in ids.into_iter().zip(batch) {
        assert!(
            model.stays.insert(id, *s).is_none(),
            "stay id {id} issued twice"
        );
    }
}

fn rules() -> impl Strategy<Value = ContactRules> {
    (
        prop_oneof![Just(0i64), 1i64..4_000],
        prop_oneof![Just(0i64), 1i64..3_000],
    )
        .prop_map(|(min_overlap, linger)| ContactRules {
            min_overlap,
            linger,
        })
}

fn cases() -> impl Strategy<Value = Vec<(u64, i64, i64)>> {
    prop::collection::btree_map(0u64..6, window(), 1..4)
        .prop_map(|m| m.into_iter().map(|(p, (s, e))| (p, s, e)).collect())
}

fn split(cases: &[(u64, i64, i64)]) -> (Vec<u64>, Vec<i64>, Vec<i64>) {
    (
        cases.iter().map(|c| c.0).collect(),
        cases.iter().map(|c| c.1).collect(),
        cases.iter().map(|c| c.2).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_brute_force(
        history in ops(),
        (venue, (start, end)) in (0u64..4, window()),
        (case, (cs, ce)) in (0u64..6, window()),
        rules in rules(),
        many in cases(),
        hops in 0u32..4,
        latency in prop_oneof![Just(0i64), 1i64..5_000],
        until in prop::option::of(window().prop_map(|w| w.1)),
    ) {
        let engine = Engine::new();
        let mut model = Model::default();
        for op in &history {
            apply(&engine, &mut model, op);
        }
        prop_assert_eq!(engine.len(), model.stays.len());

        prop_assert_eq!(engine.overlaps(venue, start, end).unwrap(), model.overlaps(venue, start, end));
        let mut present = model.overlaps(venue, start, end).person;
        present.dedup();
        prop_assert_eq!(engine.present(venue, start, end).unwrap(), present);
        let mut per_venue: BTreeMap<u64, u64> = BTreeMap::new();
        for s in model.stays.values().filter(|s| (start..end).contains(&s.t_in)) {
            *per_venue.entry(s.venue).or_default() += 1;
        }
        prop_assert_eq!(engine.checkins_per_venue(start, end).unwrap(), per_venue.into_iter().unzip());

        // Every stay by its id, in an order of the caller's; then with one id
        // more, not held: one past the largest held.
        let ids: Vec<u64> = model.stays.keys().rev().copied().collect();
        let got = engine.stays_by_id(&ids).unwrap();
        prop_assert_eq!(&got.stay_id, &ids);
        let got: Vec<Stay> = (0..ids.len()).map(|i| Stay { person: got.person[i], venue: got.venue[i], t_in: got.t_in[i], t_out: got.t_out[i] }).collect();
        prop_assert_eq!(got, ids.iter().map(|id| model.stays[id]).collect::<Vec<_>>());
        let gone = ids.first().map_or(1, |last| last + 1);
        let err = engine.stays_by_id(&[ids.clone(), vec![gone]].concat()).unwrap_err();
        prop_assert!(matches!(err, overlap::Error::UnknownStay { row, id } if row == ids.len() && id == gone), "{err}");

        let got = engine.contacts(case, cs, ce, rules).unwrap();
        let want = model.contacts(case, cs, ce, rules);
        let got: Vec<(u64, i64, i64)> = (0..got.person.len()).map(|i| (got.person[i], got.exposure[i], got.first_contact[i])).collect();
        prop_assert_eq!(got, want);

        let (p, s, e) = split(&many);
        prop_assert_eq!(engine.contacts_many(&p, &s, &e, rules).unwrap(), model.contacts_many(&many, rules));
        prop_assert_eq!(engine.exposure_sites(&p, &s, &e, rules.linger).unwrap(), model.sites(&many, rules.linger));

        let trace_rules = TraceRules { hops, contact: rules, latency, until };
        prop_assert_eq!(engine.trace(&p, &s, &e, trace_rules).unwrap(), model.trace(&many, trace_rules));
    }
}

/// What happens to a durable engine between two changes.
#[derive(Debug, Clone, Copy)]
enum Break {
    None,
    /// Dropped without `close`: the next open replays the log.
    Crash,
    Close,
    Checkpoint,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_durable_engine_answers_like_the_model_across_reopens(
        history in ops(),
        breaks in prop::collection::vec(prop_oneof![
            Just(Break::None), Just(Break::Crash), Just(Break::Close), Just(Break::Checkpoint)
        ], 8),
        (venue, (start, end)) in (0u64..4, window()),
        rules in rules(),
        many in cases(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Checkpoints every few records, on top of the ones asked for.
        let options = StoreOptions { checkpoint_bytes: 1_500 };
        let open = || Engine::open_with(dir.path(), options).unwrap();
        let mut engine = open();
        let mut model = Model::default();
        for (op, b) in history.iter().zip(breaks) {
            apply(&engine, &mut model, op);
            match b {
                Break::None => {}
                Break::Crash => {
                    drop(engine);
                    engine = open();
                }
                Break::Close => {
                    engine.close().unwrap();
                    drop(engine);
                    engine = open();
                }
                Break::Checkpoint => engine.checkpoint().unwrap(),
            }
        }
        drop(engine);
        let engine = open();
        prop_assert_eq!(engine.len(), model.stays.len());
        prop_assert_eq!(engine.overlaps(venue, start, end).unwrap(), model.overlaps(venue, start, end));
        let (p, s, e) = split(&many);
        prop_assert_eq!(engine.contacts_many(&p, &s, &e, rules).unwrap(), model.contacts_many(&many, rules));
        prop_assert_eq!(engine.exposure_sites(&p, &s, &e, rules.linger).unwrap(), model.sites(&many, rules.linger));
        // Ids survive: every stay the model holds can still be checked out.
        let ids: Vec<u64> = model.stays.keys().copied().collect();
        let t_out: Vec<i64> = model.stays.values().map(|s| s.t_out).collect();
        prop_assert!(engine.set_checkout(&ids, &t_out).is_ok());
    }
}

#[test]
fn big_batches_out_of_order_match_small_ones() {
    // Many small batches go through segment merges; two big ones do not.
    // Those are read on threads, a piece each (from 65,536 rows on), and
    // the second is numbered on from the first on each day.
    let mut stays = vec![];
    let mut state: u64 = 7;
    for _ in 0..150_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let t_in = MIDNIGHT - 200_000 + ((state >> 20) % 400_000) as i64;
        let duration = if (state >> 50).is_multiple_of(50) {
            50_000
        } else {
            1 + ((state >> 8) % 5_000) as i64
        };
        stays.push(Stay {
            person: (state >> 33) % 300,
            venue: (state >> 45) % 40,
            t_in,
            t_out: t_in + duration,
        });
    }
    let (whole, pieces) = (Engine::new(), Engine::new());
    let mut whole_model = Model::default();
    let mut model = Model::default();
    let (first, second) = stays.split_at(70_000);
    add(&whole, &mut whole_model, first);
    add(&whole, &mut whole_model, second);
    // A big batch is split by day in pieces, all at once: the ids must still
    // number each day's stays in batch order.
    let mut next_seq = BTreeMap::<i64, u64>::new();
    for s in &stays {
        let day = s.t_in.div_euclid(86_400);
        let seq = next_seq.entry(day).or_default();
        assert_eq!(whole_model.stays[&((day as u64) << 32 | *seq)], *s);
        *seq += 1;
    }
    for chunk in stays.rchunks(137) {
        add(&pieces, &mut model, chunk);
    }
    // Check-outs find their rows through the segments' seq-to-row maps.
    for (engine, m) in [(&whole, &mut whole_model), (&pieces, &mut model)] {
        let (ids, t_out): (Vec<u64>, Vec<i64>) = m
            .stays
            .iter()
            .filter(|(_, s)| s.t_in % 3 == 0)
            .map(|(&id, s)| (id, s.t_in + 1 + (s.t_out - s.t_in) / 2))
            .unzip();
        engine.set_checkout(&ids, &t_out).unwrap();
        for (id, t) in ids.iter().zip(t_out) {
            m.stays.get_mut(id).unwrap().t_out = t;
        }
    }
    for v in 0..40 {
        let (s, e) = (MIDNIGHT - 3_600 * (v as i64), MIDNIGHT + 7_200);
        assert_eq!(
            whole.overlaps(v, s, e).unwrap(),
            pieces.overlaps(v, s, e).unwrap()
        );
    }
    // Enough cases (75) that their venues are looked up in a table.
    let cases: Vec<(u64, i64, i64)> = (0..300)
        .step_by(4)
        .map(|p| (p, MIDNIGHT - 150_000, MIDNIGHT + 150_000))
        .collect();
    let (persons, starts, ends) = split(&cases);
    let rules = ContactRules {
        min_overlap: 600,
        linger: 300,
    };
    let got = pieces
        .contacts_many(&persons, &starts, &ends, rules)
        .unwrap();
    assert_eq!(
        got,
        whole
            .contacts_many(&persons, &starts, &ends, rules)
            .unwrap()
    );
    assert_eq!(got, model.contacts_many(&cases, rules));
    assert!(got.case.len() > 100, "the data should produce contacts");
}

#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    use overlap::{Error, StayProblem};
    let engine = Engine::new();
    let t = MIDNIGHT;
    let err = engine
        .add_stays(&[1, 2, 3], &[1, 1, 1], &[t, t, t], &[t + 1, t, t + 5])
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidStay {
            row: 1,
            problem: StayProblem::NotAfterCheckIn { t_in: t, t_out: t }
        }
    );
    assert!(engine.add_stays(&[1], &[1, 2], &[t], &[t + 1]).is_err());
    let err = engine
        .add_stays(&[1], &[1], &[900_000_000], &[t])
        .unwrap_err();
    assert!(
        err.to_string().contains("row 0: t_in 900000000 is outside"),
        "{err}"
    );
    assert!(engine.is_empty());

    let ids = engine
        .add_stays(&[1, 2], &[1, 1], &[t, t], &[t + 10, t + 10])
        .unwrap();
    let err = engine
        .set_checkout(&[ids[0], ids[1] + 99], &[t + 100, t + 100])
        .unwrap_err();
    assert_eq!(
        err,
        Error::UnknownStay {
            row: 1,
            id: ids[1] + 99
        }
    );
    let err = engine
        .set_checkout(&[ids[0], ids[1]], &[t + 100, t - 1])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidStay { row: 1, .. }));
    // Neither refused call changed the first stay.
    assert_eq!(
        engine.overlaps(1, t, t + 1).unwrap().t_out,
        vec![t + 10, t + 10]
    );

    assert!(matches!(
        engine.contacts(1, t, t, ContactRules::default()),
        Err(Error::EmptyWindow { .. })
    ));
    assert!(matches!(
        engine.contacts_many(&[1, 1], &[t, t], &[t + 1, t + 1], ContactRules::default()),
        Err(Error::DuplicateCase { row: 1, person: 1 })
    ));
    assert!(matches!(
        engine.contacts(
            1,
            t,
            t + 1,
            ContactRules {
                min_overlap: -1,
                linger: 0
            }
        ),
        Err(Error::NegativeParameter {
            name: "min_overlap",
            ..
        })
    ));
}
