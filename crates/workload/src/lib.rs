//! A deterministic model of national check-in traffic, for load runs.
//!
//! The model (each number is a field of [`Params`]):
//!
//! - **People** are spread over Vietnam's 63 provinces by their 2019 census
//!   population ([`PROVINCES`]); person ids are `1..=people`, each province
//!   one contiguous range.
//! - **Venues**, one per `people_per_venue` people, are spread the same way.
//!   Inside a province, venue popularity is Zipf-like: rank `k` draws with
//!   weight `1 / k^zipf`, capped at `mega` times the province's mean weight.
//!   The first ranks, one per million residents (at least one), are the
//!   province's mega-venues: markets, hospitals and bus stations in turn. The
//!   other venues take the directive's kinds in the shares of [`KINDS`].
//! - **A day** of a person: each person is active on a day with the
//!   probability that gives `checkins_per_day` check-ins nationally; an active
//!   person makes `1 + Poisson(per_active - 1)` check-ins, one after another,
//!   the first at an hour drawn from a daily rhythm in Vietnam's time (UTC+7),
//!   each next one an exponential gap (mean 45 minutes) after the last
//!   check-out, and none after midnight (but a duplicate scan, below, of one
//!   in the day's last two minutes). A fraction `travel` of active person-days
//!   are spent in a province picked by population, their own included (so
//!   some 3% less leave it: 2.9% of days nationally at 3%).
//! - **Dwell** is log-normal around the median of the venue's kind, from one
//!   minute to twelve hours. A fraction `forgotten` of stays were never
//!   checked out and closed by the system 12 to 24 hours after check-in
//!   (its duplicate's, by the first scan's): only a day's last stay can be
//!   one, since a check-in elsewhere that day closes an open stay; the next
//!   day's check-ins do not, so such a stay may overlap them, as a service
//!   would not store it (the service closes a person's open stay at their
//!   next check-in).
//! - **Duplicate scans**: a fraction `duplicates` of stays are scanned again
//!   1 to 120 seconds later (within the stay), with the same check-out.
//!
//! Every person-day draws from its own generator, seeded by (seed, day,
//! person): the data does not depend on how it is cut into chunks or on the
//! number of threads, and a chunk never needs the ones before it.

// A statistical model: counts become rates and rates counts.
#![allow(clippy::cast_precision_loss)]

use alias::Alias;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The 63 provinces and centrally run cities by official code, with their
/// population at the 2019 census in thousands (General Statistics Office).
pub const PROVINCES: [(&str, u32); 63] = [
    ("01", 8054),
    ("02", 854),
    ("04", 530),
    ("06", 314),
    ("08", 785),
    ("10", 731),
    ("11", 599),
    ("12", 460),
    ("14", 1248),
    ("15", 822),
    ("17", 854),
    ("19", 1287),
    ("20", 782),
    ("22", 1320),
    ("24", 1804),
    ("25", 1464),
    ("26", 1152),
    ("27", 1369),
    ("30", 1893),
    ("31", 2029),
    ("33", 1253),
    ("34", 1861),
    ("35", 853),
    ("36", 1781),
    ("37", 983),
    ("38", 3641),
    ("40", 3328),
    ("42", 1289),
    ("44", 896),
    ("45", 633),
    ("46", 1129),
    ("48", 1135),
    ("49", 1496),
    ("51", 1232),
    ("52", 1487),
    ("54", 873),
    ("56", 1232),
    ("58", 591),
    ("60", 1231),
    ("62", 540),
    ("64", 1514),
    ("66", 1870),
    ("67", 622),
    ("68", 1297),
    ("70", 995),
    ("72", 1170),
    ("74", 2456),
    ("75", 3097),
    ("77", 1148),
    ("79", 8993),
    ("80", 1689),
    ("82", 1765),
    ("83", 1289),
    ("84", 1010),
    ("86", 1023),
    ("87", 1600),
    ("89", 1908),
    ("91", 1723),
    ("92", 1236),
    ("93", 734),
    ("94", 1200),
    ("95", 908),
    ("96", 1194),
];

/// The directive's venue kinds, as numbered in `protos/tokhai/v1/venues.proto`,
/// with their share of ordinary venues (percent) and median dwell (minutes).
pub const KINDS: [(Kind, u32, u32); 12] = [
    (Kind::Agency, 5, 45),
    (Kind::Hospital, 1, 90),
    (Kind::School, 4, 240),
    (Kind::Company, 12, 240),
    (Kind::Supermarket, 6, 25),
    (Kind::Hotel, 2, 480),
    (Kind::Lodging, 3, 480),
    (Kind::Restaurant, 18, 50),
    (Kind::Eatery, 22, 30),
    (Kind::Cafe, 18, 45),
    (Kind::PublicTransport, 3, 40),
    (Kind::Other, 6, 30),
];

/// A venue's kind, numbered as `VenueKind` in the protos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Kind {
    Agency = 1,
    Hospital = 2,
    School = 3,
    Company = 4,
    Supermarket = 5,
    Hotel = 6,
    Lodging = 7,
    Restaurant = 8,
    Eatery = 9,
    Cafe = 10,
    PublicTransport = 11,
    Other = 12,
}

// Mega-venues, in turn: a market, a hospital, a bus station.
const MEGA_KINDS: [Kind; 3] = [Kind::Supermarket, Kind::Hospital, Kind::PublicTransport];
// Relative rate of a day's first check-in by local hour, 00:00 to 23:00.
const FIRST_HOUR: [f64; 24] = [
    1., 1., 1., 1., 2., 6., 16., 22., 18., 12., 10., 12., 12., 8., 6., 6., 8., 12., 12., 8., 5.,
    3., 2., 1.,
];
const MEAN_GAP: f64 = 45. * 60.;
const DWELL_SIGMA: f64 = 0.6;
const DWELL_MIN: f64 = 60.;
const DWELL_MAX: f64 = 12. * 3600.;
const LOCAL_OFFSET: i64 = 7 * 3600;
/// The times a stay may hold (the engine's): 2000-01-01 to 2100-01-01.
const MIN_START: i64 = 946_684_800;
const MAX_END: i64 = 4_102_444_800;
/// The most venues a model holds: its tables take a few dozen bytes each.
const MAX_VENUES: f64 = 1e8;

/// The model's parameters; [`Params::default`] is the nation on a 2021 day.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// People in the country.
    pub people: u64,
    /// Days of traffic.
    pub days: u32,
    /// Midnight that starts day 0 in Vietnam's time, in seconds since the epoch.
    pub start: i64,
    /// Check-ins a day, nationally, before duplicate scans.
    pub checkins_per_day: f64,
    /// Mean check-ins of a person on a day they check in at all.
    pub per_active: f64,
    /// People per venue.
    pub people_per_venue: f64,
    /// Zipf exponent of venue popularity inside a province.
    pub zipf: f64,
    /// Cap on a venue's popularity, as a multiple of its province's mean.
    pub mega: f64,
    /// Fraction of active person-days spent in a province picked by
    /// population (their own included).
    pub travel: f64,
    /// Fraction of stays never checked out.
    pub forgotten: f64,
    /// Fraction of stays scanned twice.
    pub duplicates: f64,
    /// The seed: the same parameters give the same stays.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            people: 100_000_000,
            days: 14,
            start: 1_627_750_800, // 2021-08-01 00:00 in Vietnam
            checkins_per_day: 100e6,
            per_active: 3.0,
            people_per_venue: 100.0,
            zipf: 0.7,
            mega: 100.0,
            travel: 0.03,
            forgotten: 0.02,
            duplicates: 0.01,
            seed: 0,
        }
    }
}

/// Parameters the model cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(String);

/// Stays as four columns, the engine's `add_stays` arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stays {
    /// Person ids, `1..=people`.
    pub persons: Vec<u64>,
    /// Venue ids, `1..=venues`.
    pub venues: Vec<u64>,
    /// Check-in times.
    pub t_in: Vec<i64>,
    /// Check-out times, after `t_in`.
    pub t_out: Vec<i64>,
}

impl Stays {
    /// Number of stays.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    #[cfg(test)]
    fn append(&mut self, other: &mut Stays) {
        self.persons.append(&mut other.persons);
        self.venues.append(&mut other.venues);
        self.t_in.append(&mut other.t_in);
        self.t_out.append(&mut other.t_out);
    }
}

struct Province {
    people: Range<u64>,
    venues: Range<u64>,
    popularity: Alias,
}

/// The country built from [`Params`]: provinces, venues and their kinds.
pub struct Model {
    params: Params,
    provinces: Vec<Province>,
    destination: Alias,
    kinds: Vec<Kind>,
    /// Each kind's dwell quantiles, one after another (`DWELL_POINTS` a
    /// kind, in the order of `Kind`'s numbers): drawing one is a table lookup.
    dwell: Vec<f32>,
    gap: Exp<f64>,
    stays_per_active: f64,
    /// Check-ins after an active person-day's first.
    extra: Alias,
    first_hour: Alias,
    /// The pieces' buffers, kept from one [`Model::generate`] to the next:
    /// fresh ones would have every page faulted in again.
    spare: Mutex<Vec<Stays>>,
}

impl Model {
    /// Builds the country; fails on parameters out of their range.
    pub fn new(params: Params) -> Result<Model, ParamError> {
        let p = &params;
        let fraction = |x: f64| (0.0..=1.0).contains(&x);
        let checks = [
            (
                p.people >= 63,
                "people must be at least 63, one per province",
            ),
            (p.days >= 1, "days must be at least 1"),
            (
                p.start >= MIN_START
                    && p.start.saturating_add((i64::from(p.days) + 1) * DAY) <= MAX_END,
                "the days from start must lie within 2000-01-01..2100-01-01",
            ),
            (
                (1.0..=100.0).contains(&p.per_active),
                "per_active must be from 1 to 100",
            ),
            (
                (1.0..=1e12).contains(&p.people_per_venue),
                "people_per_venue must be at least 1",
            ),
            (p.zipf >= 0.0 && p.zipf.is_finite(), "zipf must be >= 0"),
            (p.mega >= 1.0, "mega must be at least 1"),
            (fraction(p.travel), "travel must be a fraction"),
            (fraction(p.forgotten), "forgotten must be a fraction"),
            (fraction(p.duplicates), "duplicates must be a fraction"),
            (
                p.checkins_per_day >= 0.0 && p.checkins_per_day.is_finite(),
                "checkins_per_day must be >= 0",
            ),
            (p.people < 1 << 40, "people must be below 2**40"),
            (
                p.people as f64 / p.people_per_venue <= MAX_VENUES,
                "at most 100,000,000 venues (people / people_per_venue)",
            ),
        ];
        if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(ParamError((*why).into()));
        }
        let venues = ((p.people as f64 / p.people_per_venue).round() as u64).max(63);
        let weights: Vec<f64> = PROVINCES
            .iter()
            .map(|&(_, thousands)| f64::from(thousands))
            .collect();
        let people_of = apportion(p.people, &weights);
        let venues_of = apportion(venues, &weights);
        let mut provinces = Vec::with_capacity(63);
        let mut kinds = Vec::with_capacity(venues as usize);
        let (mut person, mut venue) = (1, 1);
        for (&people, &n) in people_of.iter().zip(&venues_of) {
            let mega_venues = (people / 1_000_000).clamp(1, n);
            kinds.extend((0..n).map(|rank| {
                if rank < mega_venues {
                    MEGA_KINDS[rank as usize % MEGA_KINDS.len()]
                } else {
                    kind_by_share(venue + rank, p.seed)
                }
            }));
            provinces.push(Province {
                people: person..person + people,
                venues: venue..venue + n,
                popularity: Alias::new(&capped_zipf(n as usize, p.zipf, p.mega))
                    .map_err(|e| ParamError(format!("venue popularity: {e}")))?,
            });
            person += people;
            venue += n;
        }
        let mut dwell = vec![DWELL_MIN as f32; DWELL_POINTS * 13];
        let tables: Vec<_> = KINDS
            .par_iter()
            .map(|&(kind, _, minutes)| {
                (
                    kind,
                    dwell_quantiles(f64::from(minutes) * 60.0, p.seed ^ kind as u64),
                )
            })
            .collect();
        for (kind, table) in tables {
            dwell[kind as usize * DWELL_POINTS..][..DWELL_POINTS].copy_from_slice(&table);
        }
        let mut model = Model {
            destination: Alias::new(&weights).expect("census weights are positive"),
            kinds,
            dwell,
            extra: Alias::poisson(p.per_active - 1.0).expect("per_active checked"),
            first_hour: Alias::new(&FIRST_HOUR).expect("positive rhythm"),
            gap: Exp::new(1.0 / MEAN_GAP).expect("positive rate"),
            stays_per_active: 0.0,
            provinces,
            params,
            spare: Mutex::default(),
        };
        model.calibrate();
        let active = model.active();
        if active > 1.0 {
            return Err(ParamError(format!(
                "{} check-ins a day need more than {} people, who make {:.2} each on a day they check in",
                model.params.checkins_per_day, model.params.people, model.stays_per_active
            )));
        }
        Ok(model)
    }

    /// Measures the stays of an active person-day on a fixed sample: plans
    /// cut short at midnight make it a little less than `per_active`.
    fn calibrate(&mut self) {
        const SAMPLE: u64 = 20_000;
        let mut out = Stays::default();
        for j in 0..SAMPLE {
            let person = 1 + j * (self.params.people / SAMPLE).max(1) % self.params.people;
            let home = self
                .province_of_person(person)
                .expect("a person of the model");
            let mut rng = SplitMix64::seed_from_u64(mix(self.params.seed ^ 0x63_616c_6962, j));
            self.person_day(&mut rng, person, home, 0, &mut out);
        }
        self.stays_per_active = out.len() as f64 / SAMPLE as f64;
    }

    /// The probability that a person checks in at all on a day.
    fn active(&self) -> f64 {
        self.params.checkins_per_day * (1.0 + self.params.duplicates)
            / (self.params.people as f64 * self.stays_per_active)
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Person-days in the model: `days * people`, the range [`Model::generate`] cuts.
    pub fn person_days(&self) -> u64 {
        u64::from(self.params.days) * self.params.people
    }

    /// The expected number of stays of one person-day, duplicates included.
    pub fn stays_per_person_day(&self) -> f64 {
        self.active() * self.stays_per_active
    }

    /// Number of venues.
    pub fn venues(&self) -> u64 {
        self.kinds.len() as u64
    }

    /// A venue's kind (venue ids are `1..=venues`).
    pub fn kind(&self, venue: u64) -> Option<Kind> {
        self.kinds
            .get(usize::try_from(venue.checked_sub(1)?).ok()?)
            .copied()
    }

    /// The index into [`PROVINCES`] of a person's home province.
    pub fn province_of_person(&self, person: u64) -> Option<usize> {
        self.provinces
            .iter()
            .position(|p| p.people.contains(&person))
    }

    /// The index into [`PROVINCES`] of a venue's province.
    pub fn province_of_venue(&self, venue: u64) -> Option<usize> {
        self.provinces
            .iter()
            .position(|p| p.venues.contains(&venue))
    }

    /// The stays of the person-days `range` (day-major: person-day `i` is
    /// person `i % people + 1` on day `i / people`), using every core.
    pub fn generate(&self, range: Range<u64>) -> Stays {
        const PIECE: u64 = 1 << 15;
        let end = range.end.min(self.person_days());
        let starts: Vec<u64> = (range.start..end).step_by(PIECE as usize).collect();
        let spare = || self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let pieces: Vec<Stays> = starts
            .into_par_iter()
            .map(|lo| {
                let mut out = spare().pop().unwrap_or_default();
                self.generate_piece(lo..(lo + PIECE).min(end), &mut out);
                out
            })
            .collect();
        let stays = Stays {
            persons: concat(pieces.iter().map(|s| &s.persons[..])),
            venues: concat(pieces.iter().map(|s| &s.venues[..])),
            t_in: concat(pieces.iter().map(|s| &s.t_in[..])),
            t_out: concat(pieces.iter().map(|s| &s.t_out[..])),
        };
        spare().extend(pieces);
        stays
    }

    /// The stays of `range` into `out`, emptied first.
    fn generate_piece(&self, range: Range<u64>, out: &mut Stays) {
        let p = &self.params;
        let expected = (range.end - range.start) as f64 * self.stays_per_person_day();
        out.empty_with_room((expected * 1.1) as usize + 16);
        // The person-day is active when its hash falls under this threshold:
        // inactive ones, most of them, cost no generator.
        let threshold = (self.active() * u64::MAX as f64) as u64;
        let mut home = 0;
        for i in range {
            let (day, person) = (i / p.people, i % p.people + 1);
            let key = mix(p.seed, i);
            if key >= threshold {
                continue;
            }
            while !self.provinces[home].people.contains(&person) {
                home = (home + 1) % self.provinces.len();
            }
            self.person_day(&mut SplitMix64::seed_from_u64(key), person, home, day, out);
        }
    }

    /// The stays of one active person-day.
    fn person_day(
        &self,
        rng: &mut SplitMix64,
        person: u64,
        home: usize,
        day: u64,
        out: &mut Stays,
    ) {
        let p = &self.params;
        let province = if rng.random_bool(p.travel) {
            &self.provinces[self.destination.sample(rng)]
        } else {
            &self.provinces[home]
        };
        let visits = 1 + self.extra.sample(rng);
        let midnight = p.start + day as i64 * DAY;
        let mut t =
            midnight + self.first_hour.sample(rng) as i64 * 3600 + rng.random_range(0..3600);
        let mut made = 0;
        let mut last = (0, 0); // the day's last stay: its first row, and its rows
        for _ in 0..visits {
            if t >= midnight + DAY {
                break; // the day is over: the rest of the plan is dropped
            }
            let venue = province.venues.start + province.popularity.sample(rng) as u64;
            let kind = self.kinds[(venue - 1) as usize];
            let table = &self.dwell[kind as usize * DWELL_POINTS..][..DWELL_POINTS];
            let dwell = quantile(table, rng.random()) as i64;
            let t_out = t + dwell;
            made += 1;
            last = (out.len(), 1);
            out.push(person, venue, t, t_out);
            if rng.random_bool(p.duplicates) {
                last.1 = 2;
                out.push(
                    person,
                    venue,
                    t + rng.random_range(1..=120).min(dwell - 1),
                    t_out,
                );
            }
            t = t_out + 60 + self.gap.sample(rng) as i64;
        }
        // A forgotten check-out ends the day (a check-in elsewhere would
        // have closed it): the day's last stay, drawn once the day's stays
        // are known, so that a fraction `forgotten` of all stays are.
        if made > 0 && rng.random_bool((p.forgotten * f64::from(made)).min(1.0)) {
            let (at, rows) = last;
            let t_out = out.t_in[at] + rng.random_range(12 * 3600..24 * 3600);
            out.t_out[at..at + rows].fill(t_out);
        }
    }
}

impl Stays {
    fn empty_with_room(&mut self, n: usize) {
        self.persons.clear();
        self.venues.clear();
        self.t_in.clear();
        self.t_out.clear();
        self.persons.reserve(n);
        self.venues.reserve(n);
        self.t_in.reserve(n);
        self.t_out.reserve(n);
    }

    fn push(&mut self, person: u64, venue: u64, t_in: i64, t_out: i64) {
        self.persons.push(person);
        self.venues.push(venue);
        self.t_in.push(t_in);
        self.t_out.push(t_out);
    }
}

/// The parts one after another, copied in parallel: the copy and the page
/// faults of fresh memory are a good part of generating.
fn concat<'a, T: Copy + Default + Send + Sync + 'a>(
    parts: impl Iterator<Item = &'a [T]>,
) -> Vec<T> {
    let parts: Vec<&[T]> = parts.collect();
    let mut out = vec![T::default(); parts.iter().map(|p| p.len()).sum()];
    let mut places = Vec::with_capacity(parts.len());
    let mut rest = &mut out[..];
    for part in &parts {
        let (place, after) = rest.split_at_mut(part.len());
        places.push(place);
        rest = after;
    }
    places
        .into_par_iter()
        .zip(parts)
        .for_each(|(place, part)| place.copy_from_slice(part));
    out
}

/// Points of a dwell table: 4 KiB a kind, so the tables stay in the L1 cache.
const QUANTILE_BITS: u32 = 10;
const QUANTILES: usize = 1 << QUANTILE_BITS;
const DWELL_POINTS: usize = QUANTILES + 1;

/// The dwell distribution of a kind as a table: log-normal around `median`
/// seconds, clamped to [`DWELL_MIN`, `DWELL_MAX`], its quantiles at every
/// 1/[`QUANTILES`] and its maximum, read from 2^18 sorted draws.
fn dwell_quantiles(median: f64, seed: u64) -> Vec<f32> {
    let law = LogNormal::new(median.ln(), DWELL_SIGMA).expect("finite median");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut draws: Vec<f64> = (0..1 << 18)
        .map(|_| law.sample(&mut rng).clamp(DWELL_MIN, DWELL_MAX))
        .collect();
    draws.sort_unstable_by(f64::total_cmp);
    let step = draws.len() / QUANTILES;
    let mut table: Vec<f32> = draws.iter().step_by(step).map(|&x| x as f32).collect();
    table.push(*draws.last().expect("draws") as f32);
    table
}

/// The quantile of `table` at `u / 2^32`, between its points linearly.
fn quantile(table: &[f32], u: u32) -> f32 {
    const FRACTION: u32 = 32 - QUANTILE_BITS;
    let i = (u >> FRACTION) as usize;
    let within = (u & ((1 << FRACTION) - 1)) as f32 / (1u32 << FRACTION) as f32;
    table[i] + within * (table[i + 1] - table[i])
}

/// Local midnight of the day of `t`, in Vietnam's time.
pub fn local_midnight(t: i64) -> i64 {
    (t + LOCAL_OFFSET).div_euclid(DAY) * DAY - LOCAL_OFFSET
}

/// `total` split in proportion to `weights`, each part at least 1, by largest remainder.
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let n = weights.len() as u64;
    let spare = total - n;
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| spare as f64 * w / sum).collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| 1 + x.floor() as u64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let short = total - parts.iter().sum::<u64>();
    for &i in order.iter().take(short as usize) {
        parts[i] += 1;
    }
    parts
}

/// Zipf weights `1 / k^s` for ranks `1..=n`, capped at `mega` times the mean
/// of the capped weights (a fixed point, found by iterating).
fn capped_zipf(n: usize, s: f64, mega: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let mut cap = f64::INFINITY;
    for _ in 0..100 {
        cap = mega * weights.iter().map(|w| w.min(cap)).sum::<f64>() / n as f64;
    }
    weights.into_iter().map(|w| w.min(cap)).collect()
}

/// An ordinary venue's kind, by the shares of [`KINDS`], fixed by its id.
fn kind_by_share(venue: u64, seed: u64) -> Kind {
    let mut at = (mix(seed ^ 0x6b69_6e64, venue) % 100) as u32;
    for &(kind, share, _) in &KINDS {
        if at < share {
            return kind;
        }
        at -= share;
    }
    Kind::Other
}

/// The key of one person-day or venue: `SplitMix64`'s output for `(seed, i)`.
fn mix(seed: u64, i: u64) -> u64 {
    SplitMix64::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i).random()
}

mod alias;
#[cfg(test)]
mod tests;
