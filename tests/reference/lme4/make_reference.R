# Recipe for the lme4 reference JSON files in this folder (R 4.2.2, lme4 1.1-31).
# Not run by the tests: simlab never needs R. Usage: Rscript make_reference.R DATA_DIR
library(lme4)
library(jsonlite)

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args)) args[1] else "../../../../shared/data"

describe <- function(name, formula, data, group) {
  m <- lmer(formula, data)
  ml <- refitML(m)
  ci_p <- confint(m, oldNames = FALSE)
  ci_w <- confint(m, method = "Wald", oldNames = FALSE)
  vc <- as.data.frame(VarCorr(m))
  vc_ml <- as.data.frame(VarCorr(ml))
  re <- ranef(m, condVar = TRUE)[[group]]
  fe <- coef(summary(m))
  list(
    name = name, formula = deparse(formula), group = group,
    nobs = nobs(m), ngroups = unname(ngrps(m)), singular = isSingular(m),
    reml_criterion = REMLcrit(m), loglik_reml = as.numeric(logLik(m)),
    loglik_ml = as.numeric(logLik(ml)),
    fixef = list(term = rownames(fe), estimate = fe[, 1], se = fe[, 2], t = fe[, 3]),
    fixef_ml = list(term = names(fixef(ml)), estimate = unname(fixef(ml)),
                    se = unname(sqrt(diag(vcov(ml))))),
    vc = list(group = vc$grp, variance = vc$vcov, sd = vc$sdcor),
    vc_ml = list(group = vc_ml$grp, variance = vc_ml$vcov),
    confint_profile = list(param = rownames(ci_p), lower = ci_p[, 1], upper = ci_p[, 2]),
    confint_wald = list(param = rownames(ci_w), lower = ci_w[, 1], upper = ci_w[, 2]),
    ranef = list(level = rownames(re), value = re[, 1],
                 se = sqrt(attr(re, "postVar")[1, 1, ])),
    coef_intercept = coef(m)[[group]][, 1],
    predict_re = unname(predict(m)), predict_fixed = unname(predict(m, re.form = NA)),
    lme4_version = as.character(packageVersion("lme4")), r_version = R.version.string
  )
}

save <- function(x, file) write_json(x, file, digits = NA, auto_unbox = TRUE, na = "string")

gpa <- read.csv(file.path(data_dir, "gpa.csv"))
gpa$sex <- factor(gpa$sex, levels = c("male", "female"))
save(describe("gpa", gpa ~ occasion + (1 | student), gpa, "student"), "gpa_occasion.json")
save(describe("gpa_sex", gpa ~ occasion + sex + (1 | student), gpa, "student"), "gpa_sex.json")
save(describe("gpa_highgpa", gpa ~ occasion + highgpa + (1 | student), gpa, "student"), "gpa_highgpa.json")
save(describe("gpa_sex_highgpa", gpa ~ occasion + sex + highgpa + (1 | student), gpa, "student"),
     "gpa_sex_highgpa.json")
save(describe("sleepstudy", Reaction ~ Days + (1 | Subject), sleepstudy, "Subject"), "sleepstudy.json")

set.seed(1234)
Ngroups <- 100; NperGroup <- 3; N <- Ngroups * NperGroup
groups <- factor(rep(1:Ngroups, each = NperGroup))
u <- rnorm(Ngroups, sd = .5)
e <- rnorm(N, sd = .25)
x <- rnorm(N)
y <- 2 + .5 * x + u[groups] + e
d <- data.frame(x, y, groups)
write.csv(d, "../sim1234.csv", row.names = FALSE)
save(describe("sim1234", y ~ x + (1 | groups), d, "groups"), "sim1234.json")
