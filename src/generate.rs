//! `sessionize generate`: realistic, deterministic synthetic events for samples, tests and
//! benchmarks. The same options always write the same bytes.
//!
//! What it models, because each is a case the sessionizer must get right: heavy-tailed
//! visitors (a few users produce many sessions), gaps just under, at and just over 30 minutes
//! and sub-second gaps and ties, sessions that cross midnight (their later events land in the
//! next day's folder), UTM-tagged landing URLs and external referrers, several devices and
//! countries, purchases with revenue, duplicated deliveries and rows with no user.
//! On request, also what incremental runs must get right: events delivered days late
//! (`--late-share`), and bots active without a pause for days (`--bots`).
//!
//! Events are written one file per event day, `<output>/dt=YYYY-MM-DD/events.parquet`, and
//! within a file in generation order (by session, not by time), as trackers deliver them.
//! Late events go to `<output>/dt=<delivery day>/late.parquet`, one to three days later.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub events: u64,
    pub days: u32,
    pub seed: u64,
    /// First day, YYYY-MM-DD (UTC).
    pub start: String,
    pub output: PathBuf,
    /// The share of events delivered one to three days after their day.
    pub late_share: f64,
    /// Users that send an event every few minutes, day and night, over every day.
    pub bots: u32,
}

#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    pub files: usize,
    pub rows: u64,
    pub duplicates: u64,
    pub null_users: u64,
    pub late: u64,
    pub bot_events: u64,
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} rows in {} file(s): {} duplicated deliveries, {} rows without a user, {} delivered late, {} from bots",
            self.rows, self.files, self.duplicates, self.null_users, self.late, self.bot_events
        )
    }
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
const THIRTY_MINUTES: i64 = 1_800 * MICROS_PER_SECOND;
const ROWS_PER_BATCH: usize = 65_536;

const PAGES: &[&str] = &[
    "/",
    "/",
    "/",
    "/products",
    "/products/shoes",
    "/products/shirts",
    "/products/hats",
    "/blog/how-to-choose-shoes",
    "/blog/summer-sale",
    "/cart",
    "/checkout",
    "/about",
    "/help/shipping",
    "/search",
];
const DEVICES: &[(&str, &str)] = &[
    (
        "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    (
        "desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    ),
    (
        "mobile",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    ),
    (
        "mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
    ),
    (
        "tablet",
        "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    ),
];
const COUNTRIES: &[&str] = &["US", "US", "US", "GB", "DE", "FR", "IN", "BR", "JP", "CA"];
const CAMPAIGNS: &[(&str, &str, &str)] = &[
    ("google", "cpc", "brand"),
    ("google", "cpc", "shoes_generic"),
    ("facebook", "paid_social", "summer_sale"),
    ("newsletter", "email", "weekly_2026_46"),
    ("bing", "cpc", "brand"),
];
const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.bing.com/search?q=shoes",
    "https://m.facebook.com/",
    "https://news.ycombinator.com/item?id=1",
    "https://blog.example.org/best-shoes-2026",
];
const SITE: &str = "https://shop.example.com";

/// SplitMix64: tiny, fast and stable across versions, which a seeded sample needs.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Exponential with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

#[derive(Clone)]
struct Event {
    event_id: String,
    user_id: Option<String>,
    time_us: i64,
    name: &'static str,
    page_url: String,
    referrer: Option<String>,
    device: &'static str,
    user_agent: &'static str,
    country: &'static str,
    revenue: Option<f64>,
}

/// The gap before the next event of a session. Mostly seconds to minutes; a few sit exactly
/// on, or a microsecond either side of, the 30-minute timeout, or just over it by a fraction
/// of a second; some are zero (two events in the same microsecond).
fn next_gap(random: &mut Random) -> i64 {
    let roll = random.unit();
    if roll < 0.03 {
        *random.pick(&[
            THIRTY_MINUTES - 1,
            THIRTY_MINUTES,
            THIRTY_MINUTES + 1,
            THIRTY_MINUTES + 400_000,
            THIRTY_MINUTES - 400_000,
        ])
    } else if roll < 0.05 {
        0
    } else if roll < 0.10 {
        // a pause that splits the visit in two
        THIRTY_MINUTES + (random.exponential(3_600.0) * 1e6) as i64
    } else {
        1 + (random.exponential(45.0) * 1e6) as i64
    }
}

pub fn generate(options: &GenerateOptions) -> Result<GenerateSummary> {
    let start_day = chrono::NaiveDate::parse_from_str(&options.start, "%Y-%m-%d")
        .with_context(|| format!("--start {:?} is not a date like 2026-11-01", options.start))?;
    if options.days == 0 {
        bail!("--days must be at least 1");
    }
    if !(0.0..1.0).contains(&options.late_share) {
        bail!("--late-share must be at least 0 and less than 1");
    }
    let start_us = start_day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros();
    std::fs::create_dir_all(&options.output)
        .with_context(|| format!("cannot create {}", options.output.display()))?;

    let mut random = Random(options.seed ^ 0x5E55_1011_2E00_0000);
    let users = (options.events / 25).max(5);
    let per_day = options.events.div_ceil(u64::from(options.days));
    let mut summary = GenerateSummary::default();
    let mut pending: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    // late deliveries, by the day they are delivered on; drawn from their own sequence so
    // that the other events are the same with or without them
    let mut late: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    let mut late_random = Random(options.seed ^ 0x1A7E_0000_0000_0001);
    add_bots(options, start_us, &mut pending, &mut summary);
    let mut next_event = 0u64;

    for day in 0..i64::from(options.days) {
        let day_start = start_us + day * MICROS_PER_DAY;
        let mut made = 0u64;
        while made < per_day && next_event < options.events {
            // heavy tail: low user numbers are drawn far more often
            let user = (users as f64 * random.unit().powf(2.5)) as u64;
            let (device, user_agent) = DEVICES[(user % DEVICES.len() as u64) as usize];
            let country = COUNTRIES[((user / 7) % COUNTRIES.len() as u64) as usize];
            // visits lean towards the evening, so some run past midnight
            let hour_weighted = random.unit().powf(0.6);
            let mut time = day_start + (hour_weighted * MICROS_PER_DAY as f64) as i64;
            let length = 1 + random.exponential(4.0) as u64;
            let campaign = random.chance(0.3).then(|| *random.pick(CAMPAIGNS));
            let referrer = (campaign.is_none() && random.chance(0.4))
                .then(|| random.pick(REFERRERS).to_string());
            for position in 0..length {
                if made >= per_day || next_event >= options.events {
                    break;
                }
                let page = *random.pick(PAGES);
                let page_url = match (position, campaign) {
                    (0, Some((source, medium, name))) => format!(
                        "{SITE}{page}?utm_source={source}&utm_medium={medium}&utm_campaign={name}"
                    ),
                    _ => format!("{SITE}{page}"),
                };
                let (name, revenue) = match random.unit() {
                    r if r < 0.75 => ("page_view", None),
                    r if r < 0.85 => ("add_to_cart", None),
                    r if r < 0.88 => (
                        "purchase",
                        Some((random.below(20_000) as f64 + 999.0) / 100.0),
                    ),
                    _ => ("scroll", None),
                };
                let user_id = (!random.chance(0.002)).then(|| format!("u{user:07}"));
                if user_id.is_none() {
                    summary.null_users += 1;
                }
                let event = Event {
                    event_id: format!("{:08x}-{:012x}", options.seed, next_event),
                    user_id,
                    time_us: time,
                    name,
                    page_url,
                    referrer: if position == 0 {
                        referrer.clone()
                    } else {
                        Some(format!("{SITE}{page}"))
                    },
                    device,
                    user_agent,
                    country,
                    revenue,
                };
                let event_day = (event.time_us - start_us).div_euclid(MICROS_PER_DAY);
                let bucket = if options.late_share > 0.0 && late_random.chance(options.late_share) {
                    summary.late += 1;
                    late.entry(event_day + 1 + late_random.below(3) as i64)
                        .or_default()
                } else {
                    pending.entry(event_day).or_default()
                };
                if random.chance(0.01) {
                    bucket.push(event.clone());
                    summary.duplicates += 1;
                }
                bucket.push(event);
                next_event += 1;
                made += 1;
                time += next_gap(&mut random);
            }
        }
        // no later session can add to a day before this one
        let ready: Vec<i64> = pending.range(..=day).map(|(d, _)| *d).collect();
        for d in ready {
            let events = pending.remove(&d).expect("listed");
            summary.rows += write_day(options, start_day, d, &events)?;
            summary.files += 1;
        }
    }
    for (d, events) in std::mem::take(&mut pending) {
        summary.rows += write_day(options, start_day, d, &events)?;
        summary.files += 1;
    }
    for (d, events) in late {
        summary.rows += write_file(options, start_day, d, "late.parquet", &events)?;
        summary.files += 1;
    }
    Ok(summary)
}

/// Bots: one event every one to twenty minutes, never a pause long enough to end a
/// session, from the first day's start to the last day's end.
fn add_bots(
    options: &GenerateOptions,
    start_us: i64,
    pending: &mut BTreeMap<i64, Vec<Event>>,
    summary: &mut GenerateSummary,
) {
    let end_us = start_us + i64::from(options.days) * MICROS_PER_DAY;
    for bot in 0..options.bots {
        let mut random = Random(options.seed ^ 0xB07 ^ (u64::from(bot) << 32));
        let mut time = start_us + random.below(3_600) as i64 * MICROS_PER_SECOND;
        let mut n = 0u64;
        while time < end_us {
            let page = *random.pick(PAGES);
            let event = Event {
                event_id: format!("{:08x}-bot{bot:03}-{n:09}", options.seed),
                user_id: Some(format!("bot{bot:04}")),
                time_us: time,
                name: "page_view",
                page_url: format!("{SITE}{page}"),
                referrer: None,
                device: "desktop",
                user_agent: "Mozilla/5.0 (compatible; ExampleBot/1.0)",
                country: "US",
                revenue: None,
            };
            let day = (time - start_us).div_euclid(MICROS_PER_DAY);
            pending.entry(day).or_default().push(event);
            summary.bot_events += 1;
            n += 1;
            time += (60 + random.below(19 * 60) as i64) * MICROS_PER_SECOND;
        }
    }
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new(
            "event_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("event_name", DataType::Utf8, false),
        Field::new("page_url", DataType::Utf8, false),
        Field::new("referrer", DataType::Utf8, true),
        Field::new("device", DataType::Utf8, false),
        Field::new("user_agent", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("revenue", DataType::Float64, true),
    ]))
}

fn write_day(
    options: &GenerateOptions,
    start_day: chrono::NaiveDate,
    day: i64,
    events: &[Event],
) -> Result<u64> {
    write_file(options, start_day, day, "events.parquet", events)
}

fn write_file(
    options: &GenerateOptions,
    start_day: chrono::NaiveDate,
    day: i64,
    name: &str,
    events: &[Event],
) -> Result<u64> {
    let date = start_day + chrono::Duration::days(day);
    let dir = options
        .output
        .join(format!("dt={}", date.format("%Y-%m-%d")));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .build();
    let schema = schema();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
    for chunk in events.chunks(ROWS_PER_BATCH) {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|e| e.event_id.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                chunk.iter().map(|e| e.user_id.as_deref()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(chunk.iter().map(|e| e.time_us))
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.name))),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|e| e.page_url.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                chunk.iter().map(|e| e.referrer.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|e| e.device),
            )),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|e| e.user_agent),
            )),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|e| e.country),
            )),
            Arc::new(Float64Array::from_iter(chunk.iter().map(|e| e.revenue))),
        ];
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    writer.close()?;
    Ok(events.len() as u64)
}
