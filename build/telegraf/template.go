package main

import (
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/serializers"
	"github.com/influxdata/telegraf/plugins/serializers/template"
)

// Telegraf v1.37's template serializer cannot serialize a batch of tracked
// metrics (influxdata/telegraf#18224, fixed upstream by #18386 after
// v1.37.2): with use_batch_format it logs "metric of type
// *metric.trackingMetric is not a template metric" and returns nothing, and
// outputs.file then reports the empty write as delivered. Every auditpull
// metric is tracked, so the checkpoint would move past events no output
// wrote. This build registers the serializer with that fix; drop it with
// the Telegraf upgrade that carries it.
func init() {
	serializers.Add("template", func() telegraf.Serializer { return &batchTemplate{} })
}

// batchTemplate is template.Serializer, whose SerializeBatch unwraps tracked
// metrics as its Serialize already does. The fields mirror the upstream
// options so that configurations load unchanged.
type batchTemplate struct {
	Template      string          `toml:"template"`
	BatchTemplate string          `toml:"batch_template"`
	Log           telegraf.Logger `toml:"-"`

	upstream *template.Serializer
}

func (s *batchTemplate) Init() error {
	s.upstream = &template.Serializer{Template: s.Template, BatchTemplate: s.BatchTemplate, Log: s.Log}
	return s.upstream.Init()
}

func (s *batchTemplate) Serialize(m telegraf.Metric) ([]byte, error) {
	return s.upstream.Serialize(m)
}

func (s *batchTemplate) SerializeBatch(ms []telegraf.Metric) ([]byte, error) {
	plain := make([]telegraf.Metric, len(ms))
	for i, m := range ms {
		if u, ok := m.(telegraf.UnwrappableMetric); ok {
			m = u.Unwrap()
		}
		plain[i] = m
	}
	return s.upstream.SerializeBatch(plain)
}
