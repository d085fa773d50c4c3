//! The merged windows: per request name and overall, for the whole run
//! and the judged stages, each from its shards' histograms added.

use std::collections::BTreeMap;

use reports::{
    histogram::{self, Histogram},
    results::{
        EndpointStats, ErrorCounts, Latencies, LatencySummary, PhaseHistograms, Phases, Results,
        Window,
    },
};

use super::MergeError;

/// One shard as the merge reads it: where it came from, and how long
/// after the earliest shard it started.
#[derive(Debug, Clone, Copy)]
pub(super) struct Part<'a> {
    pub file: &'a str,
    pub results: &'a Results,
    /// Exactly, for the merged durations and times.
    pub offset_ms: u64,
    /// To the nearest whole second, for lining up the per-second series.
    pub offset_s: u32,
}

/// How long windows of the shards last together, each `duration_ms` long
/// from its shard's start: from the earliest start to the latest end. Rates
/// over it are the whole run's, also when the shards did not start at once.
pub(super) fn span_ms<'a>(windows: impl Iterator<Item = (&'a Part<'a>, u64)>) -> u64 {
    let (mut start, mut end) = (u64::MAX, 0);
    for (part, duration_ms) in windows {
        start = start.min(part.offset_ms);
        end = end.max(part.offset_ms + duration_ms);
    }
    end.saturating_sub(start.min(end))
}

impl Part<'_> {
    /// The error for something wrong inside this shard's file.
    pub fn refuse(&self, why: impl Into<String>) -> MergeError {
        MergeError::Refused {
            file: self.file.to_owned(),
            why: why.into(),
        }
    }

    /// Decodes one of this shard's histograms (`what`, for the error) and
    /// adds it into `into`; a histogram whose values do not fit loadgate's
    /// bounds was not written by loadgate.
    pub fn add_into(
        &self,
        into: &mut Histogram,
        encoded: &str,
        what: &str,
    ) -> Result<(), MergeError> {
        let more = histogram::decode(encoded).map_err(|e| self.refuse(format!("{what}: {e}")))?;
        into.add(more)
            .map_err(|e| self.refuse(format!("{what} out of loadgate's bounds ({e:?})")))
    }
}

/// The overall stats and each request name's, in the order the shards
/// name them (the checks made sure they name the same).
pub(super) fn endpoints(
    parts: &[Part<'_>],
) -> Result<(EndpointStats, Vec<EndpointStats>), MergeError> {
    let overall: Vec<(Part<'_>, &EndpointStats)> =
        parts.iter().map(|p| (*p, &p.results.overall)).collect();
    let overall = endpoint("overall", &overall)?;
    let mut names: Vec<&str> = Vec::new();
    for part in parts {
        for request in &part.results.requests {
            if !names.contains(&request.name.as_str()) {
                names.push(&request.name);
            }
        }
    }
    let requests = names
        .into_iter()
        .map(|name| {
            let of_name: Vec<(Part<'_>, &EndpointStats)> = parts
                .iter()
                .filter_map(|p| {
                    let stats = p.results.requests.iter().find(|r| r.name == name)?;
                    Some((*p, stats))
                })
                .collect();
            endpoint(name, &of_name)
        })
        .collect::<Result<_, _>>()?;
    Ok((overall, requests))
}

fn endpoint(name: &str, parts: &[(Part<'_>, &EndpointStats)]) -> Result<EndpointStats, MergeError> {
    let all: Vec<(Part<'_>, &Window)> = parts.iter().map(|(p, e)| (*p, &e.all)).collect();
    let judged: Vec<(Part<'_>, &Window)> = parts
        .iter()
        .filter_map(|(p, e)| e.judged.as_ref().map(|w| (*p, w)))
        .collect();
    let run_ms = span_ms(all.iter().map(|(p, w)| (p, w.duration_ms)));
    // The judged stages start at the same offset in every shard.
    let judged_ms = span_ms(judged.iter().map(|(p, w)| (p, w.duration_ms)));
    let mut status_codes = BTreeMap::new();
    for (_, stats) in parts {
        for (code, n) in &stats.status_codes {
            *status_codes.entry(*code).or_insert(0) += n;
        }
    }
    Ok(EndpointStats {
        name: name.to_owned(),
        all: window(&all, run_ms)?,
        judged: if judged.is_empty() {
            None
        } else {
            Some(window(&judged, judged_ms)?)
        },
        status_codes,
        phases: phases(parts)?,
    })
}

/// The shards' windows as one over `duration_ms`: counts and errors added,
/// the successful, failed and service-time histograms added.
fn window(parts: &[(Part<'_>, &Window)], duration_ms: u64) -> Result<Window, MergeError> {
    let mut count = 0;
    let mut errors = ErrorCounts::default();
    let mut ok = histogram::new_histogram();
    let mut failed = histogram::new_histogram();
    let mut service = histogram::new_histogram();
    let mut every_part_has_service = true;
    for (part, window) in parts {
        count += window.count;
        errors.add(&window.errors);
        let (Some(ok_part), Some(failed_part)) = (&window.ok, &window.failed) else {
            return Err(
                part.refuse("a window keeps no histograms of its successes and failures apart")
            );
        };
        part.add_into(&mut ok, &ok_part.histogram, "a histogram")?;
        part.add_into(&mut failed, &failed_part.histogram, "a histogram")?;
        match &window.service_histogram {
            Some(encoded) => part.add_into(&mut service, encoded, "a histogram")?,
            None => every_part_has_service = false,
        }
    }
    Ok(Window::of(
        count,
        errors,
        duration_ms * 1000,
        Latencies {
            ok: &ok,
            failed: &failed,
            service: every_part_has_service.then_some(&service),
        },
    ))
}

/// The phases over every shard that kept them.
fn phases(parts: &[(Part<'_>, &EndpointStats)]) -> Result<Option<Phases>, MergeError> {
    let mut connects = 0;
    let mut connect = histogram::new_histogram();
    let mut ttfb = histogram::new_histogram();
    let mut transfer = histogram::new_histogram();
    for (part, stats) in parts {
        let Some(phases) = &stats.phases else {
            continue;
        };
        let Some(histograms) = &phases.histograms else {
            return Err(part.refuse("its phases keep no histograms"));
        };
        connects += phases.connects;
        part.add_into(&mut connect, &histograms.connect, "a histogram")?;
        part.add_into(&mut ttfb, &histograms.ttfb, "a histogram")?;
        part.add_into(&mut transfer, &histograms.transfer, "a histogram")?;
    }
    Ok((!ttfb.is_empty()).then(|| Phases {
        connects,
        connect: LatencySummary::of(&connect),
        ttfb: LatencySummary::of(&ttfb),
        transfer: LatencySummary::of(&transfer),
        histograms: Some(PhaseHistograms {
            connect: histogram::encode(&connect),
            ttfb: histogram::encode(&ttfb),
            transfer: histogram::encode(&transfer),
        }),
    }))
}
