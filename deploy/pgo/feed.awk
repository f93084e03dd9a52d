# Training records for a profile-guided build (deploy/pgo/build.sh): fake but well-formed
# applicant and insurance-policy records in the shapes of deploy/examples/policy.toml, so the
# instrumented binary runs the engine's usual paths — masks that find their kind, identifiers with
# valid check characters, numbers in range, remarks with escapes and identifiers to scan.
# Deliberately not the benchmark's feed (bench/src/feed.rs): a build trained on what it
# is then measured with would flatter itself.
#
#   awk -v n=RECORDS -v shape=applicants|policies -v format=json|ndjson -f feed.awk
BEGIN {
    srand(7)
    split("王 李 张 刘 陈 杨 赵 黄 周 吴 欧阳 司马 上官", surnames, " ")
    split("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 桂英 明轩", given, " ")
    split("上海市浦东新区 北京市海淀区 广东省深圳市南山区 浙江省杭州市西湖区 四川省成都市武侯区", areas, " ")
    split("张江路 中关村大街 科技园南路 文一西路 天府大道", roads, " ")
    split("装修 教育 经营周转 购车 旅游", purposes, " ")
    split("310115 110108 440305 330106 510107", regions, " ")
    split("7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2", weights, " ")
    checks = "10X98765432"
    if (n == "") n = 1000
    if (shape == "") shape = "applicants"
    if (format == "json") printf "{\"%s\":[", shape
    for (r = 1; r <= n; r++) {
        rec = shape == "policies" ? policy(r) : applicant(r)
        if (format == "json") printf "%s%s", (r > 1 ? "," : ""), rec
        else print rec
    }
    if (format == "json") printf "],\"total\":%d}\n", n
}
function pick(list, count) { return list[int(rand() * count) + 1] }
function digits(k,    s, i) { s = ""; for (i = 0; i < k; i++) s = s int(rand() * 10); return s }
function name() { return pick(surnames, 13) pick(given, 20) (rand() < 0.3 ? pick(given, 20) : "") }
function mobile() { return "1" (3 + int(rand() * 7)) digits(9) }
function id_card(    body, sum, i) {
    body = pick(regions, 5) (1950 + int(rand() * 55)) sprintf("%02d%02d", 1 + int(rand() * 12), 1 + int(rand() * 28)) digits(3)
    sum = 0
    for (i = 1; i <= 17; i++) sum += substr(body, i, 1) * weights[i]
    return body substr(checks, sum % 11 + 1, 1)
}
function bank_card(    body, sum, i, d, k) {
    body = "62" digits(15)
    sum = 0
    k = length(body)
    for (i = k; i >= 1; i--) {
        d = substr(body, i, 1) + 0
        if ((k - i) % 2 == 0) { d *= 2; if (d > 9) d -= 9 }
        sum += d
    }
    return body ((10 - sum % 10) % 10)
}
function address() { return pick(areas, 5) pick(roads, 5) int(rand() * 999 + 1) "号" int(rand() * 30 + 1) "0" int(rand() * 9 + 1) "室" }
function remark(    x) {
    x = rand()
    if (x < 0.3) return "客户补充：身份证 " id_card() "，备用卡 " bank_card()
    if (x < 0.5) return "回访电话 " mobile() "，邮箱 u" digits(6) "@example.com"
    if (x < 0.7) return "上传路径 C:\\\\uploads\\\\2026\\\\id_front.jpg\\n\\t复核\\u4eba \\ud83d\\ude00"
    return "plain ascii remark, reviewed by agent #" int(rand() * 100)
}
function applicant(r) {
    return sprintf("{\"applicant_no\":\"LA%08d\",\"name\":\"%s\",\"id_no\":\"%s\",\"mobile\":\"%s\",\"card_cvn\":\"%s\",\"bank_card\":\"%s\",\"address\":\"%s\",\"loan\":{\"amount\":%d.%02d,\"term_months\":%d,\"purpose\":\"%s\"},\"credit_score\":%d,\"tags\":[\"%s\",%d],\"verified\":%s,\"referrer\":null,\"remarks\":\"%s\"}",
        r, name(), id_card(), mobile(), digits(3), bank_card(), address(),
        int(rand() * 500000), int(rand() * 100), 6 * (1 + int(rand() * 10)), pick(purposes, 5),
        300 + int(rand() * 600), pick(purposes, 5), int(rand() * 10),
        (rand() < 0.5 ? "true" : "false"), remark())
}
function policy(r,    claims, c, k) {
    claims = ""
    k = int(rand() * 3)
    for (c = 1; c <= k; c++)
        claims = claims (c > 1 ? "," : "") sprintf("{\"claim_no\":\"CL%08d%d\",\"amount\":%d.%02d,\"reason\":\"%s\"}", r, c, int(rand() * 50000), int(rand() * 100), remark())
    return sprintf("{\"policy_no\":\"P%010d\",\"product\":\"重疾险\",\"holder\":{\"name\":\"%s\",\"id_no\":\"%s\",\"mobile\":\"%s\",\"address\":\"%s\"},\"payment\":{\"card_no\":\"%s\",\"bank\":\"招商银行\"},\"premium\":%d.%02d,\"claims\":[%s]}",
        r, name(), id_card(), mobile(), address(), bank_card(), int(rand() * 20000), int(rand() * 100), claims)
}
