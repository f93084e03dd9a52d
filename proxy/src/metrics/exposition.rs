//! `/metrics`: the series and the scrape-time gauges encoded as OpenMetrics text by
//! `prometheus-client`, through a collector over sluice's own tables (so an update never goes
//! through the encoder's types, and a scrape reads the atomics as they are).

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::families::help;
use super::histogram::AtomicHistogram;
use super::{FAMILIES, Gauge, Histogram, Metrics};

impl Metrics {
    /// The OpenMetrics exposition; `gauges` are current values computed by the caller at
    /// scrape time.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Scrape {
            metrics: self.clone(),
            gauges: gauges.to_vec(),
        }));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// One scrape: the series, and the gauges computed for it.
#[derive(Debug)]
struct Scrape {
    metrics: Metrics,
    gauges: Vec<Gauge>,
}

/// A histogram's buckets, for the encoder.
#[derive(Debug)]
struct Buckets<'a>(&'a AtomicHistogram);

impl prometheus_client::encoding::EncodeMetric for Buckets<'_> {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let (buckets, sum) = self.0.read();
        let count = buckets.iter().map(|b| b.1).sum();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, rows) in self.metrics.counters() {
            // OpenMetrics names a counter family without its `_total` suffix.
            let base = name.trim_end_matches("_total");
            let mut family =
                encoder.encode_descriptor(base, help(name), None, MetricType::Counter)?;
            for (labels, n) in rows {
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, &**v)).collect();
                let counter = prometheus_client::metrics::counter::ConstCounter::new(n);
                counter.encode(family.encode_family(&pairs)?)?;
            }
        }
        for (name, rows) in self.metrics.histograms() {
            let mut family =
                encoder.encode_descriptor(name, help(name), None, MetricType::Histogram)?;
            for (labels, h) in rows {
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, &**v)).collect();
                let series = family.encode_family(&pairs)?;
                match h {
                    Histogram::Plain(h) => Buckets(&h).encode(series)?,
                    Histogram::Traced(h) => h.encode(series)?,
                }
            }
        }
        for (name, _, help) in FAMILIES.iter().filter(|f| f.1 == "gauge") {
            let rows: Vec<_> = self.gauges.iter().filter(|g| g.0 == *name).collect();
            if rows.is_empty() {
                continue;
            }
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (_, labels, v) in rows {
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, &**v)).collect();
                let series = family.encode_family(&pairs)?;
                use prometheus_client::metrics::gauge::ConstGauge;
                // Whole numbers (days, seconds, counts, 0/1) print as integers.
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    ConstGauge::new(*v as i64).encode(series)?;
                } else {
                    ConstGauge::new(*v).encode(series)?;
                }
            }
        }
        Ok(())
    }
}
