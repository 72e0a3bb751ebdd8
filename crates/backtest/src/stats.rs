//! Statistics of an equity curve: QSTrader's `JSONStatistics` and the summary [`Metrics`].
