// Satisfaction surveys (NPS 0-10, CSAT 1-5) about my recent paid orders. The page works
// only where the bridge serves the survey API (members' surveys): elsewhere it says so
// and asks nothing more, like the home page that shows no entry for it.
const api = require('../../lib/api.js')
const features = require('../../lib/features.js')
const i18n = require('../../lib/i18n.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

function scale(min, max) {
  const out = []
  for (let n = min; n <= max; n++) out.push(n)
  return out
}

Component({
  data: { t: {}, items: [], loaded: false, served: true, notMember: false, error: '', notice: '' },
  methods: {
    onLoad() {
      track.pageView('pages/surveys/index')
      localise(this, 'surveysTitle')
      if (!session.requireLogin()) return null
      return this.load()
    },
    async load() {
      try {
        const document = await api.call('document')
        if (!features.serves(document, 'surveys') || !features.serves(document, 'answerSurvey')) {
          this.setData({ served: false, loaded: true })
          return
        }
        const reply = await api.call('surveys')
        this.setData({ loaded: true, error: '', items: reply.items.map(i => ({
          key: `${i.survey.id}:${i.order_no}`, surveyId: i.survey.id, orderNo: i.order_no,
          title: i18n.pick(i.survey.title_zh, i.survey.title_en),
          question: i18n.pick(i.survey.question_zh, i.survey.question_en),
          scores: scale(i.survey.scale_min, i.survey.scale_max), score: null, comment: '',
          date: (i.paid_at || '').slice(0, 10) })) })
      } catch (err) {
        if (err.status === 404) this.setData({ notMember: true, loaded: true })
        else fail(this, err)
      }
    },
    pick(e) {
      const { key, score } = e.currentTarget.dataset
      this.setData({ items: this.data.items.map(i => (i.key === key ? { ...i, score: Number(score) } : i)) })
    },
    onComment(e) {
      const key = e.currentTarget.dataset.key
      this.setData({ items: this.data.items.map(i => (i.key === key ? { ...i, comment: e.detail.value } : i)) })
    },
    async answer(e) {
      const t = this.data.t
      const item = this.data.items.find(i => i.key === e.currentTarget.dataset.key)
      if (!item) return
      if (item.score === null) {
        this.setData({ error: t.pickScore })
        return
      }
      const body = { order_no: item.orderNo, score: item.score }
      if (item.comment.trim()) body.comment = item.comment.trim()
      try {
        await api.call('answerSurvey', { path: { survey_id: item.surveyId }, body })
        this.setData({ notice: t.thanks, error: '',
                       items: this.data.items.filter(i => i.key !== item.key) })
      } catch (err) {
        fail(this, err)
      }
    },
    join() {
      wx.navigateTo({ url: '/pages/login/index' })
    },
  },
})
