# Recipe for ftests.json: F tests of fixed-effect terms and contrasts (R 4.2.2, lme4 1.1-31,
# lmerTest 3.1-3, pbkrtest 0.5.2). Not run by the tests: simlab never needs R.
# Usage, from this folder: Rscript ftests.R DATA_DIR > ftests.out
#   (DATA_DIR holds gpa.csv, which is read at run time and never committed)
suppressPackageStartupMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
options(digits = 12, width = 150)

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args)) args[1] else "../../../../shared/data"

gpa <- read.csv(file.path(data_dir, "gpa.csv"))
gpa$sex <- factor(gpa$sex, levels = c("male", "female"))   # simlab.datasets.gpa's order
sleep <- read.csv("../../../simlab/datasets/sleepstudy.csv")
boundary <- read.csv("../power/boundary.csv")
boundary$g <- factor(boundary$g)

ftable <- function(tab) list(term = rownames(tab), sum_sq = tab[["Sum Sq"]],
                             mean_sq = tab[["Mean Sq"]], num_df = tab[["NumDF"]],
                             den_df = tab[["DenDF"]], f = tab[["F value"]], p = tab[["Pr(>F)"]])

contrast <- function(fit, L, rhs = 0) {
  kr <- KRmodcomp(fit, L, betaH = if (all(rhs == 0)) 0 else drop(MASS::ginv(L) %*% rhs))
  cat("L =\n"); print(L); cat("rhs =", rhs, "\n")
  s <- contest(fit, L, rhs = rhs, joint = TRUE); print(s)
  k <- contest(fit, L, rhs = rhs, joint = TRUE, ddf = "Kenward-Roger"); print(k)
  print(kr$test); print(kr$aux)
  list(L = unname(L), rhs = rhs, satterthwaite = ftable(s), kenward_roger = ftable(k),
       krmodcomp = list(f = kr$test["Ftest", "stat"], f_unscaled = kr$test["FtestU", "stat"],
                        num_df = kr$test["Ftest", "ndf"], den_df = kr$test["Ftest", "ddf"],
                        scaling = kr$test["Ftest", "F.scaling"], p = kr$test["Ftest", "p.value"],
                        a1 = unname(kr$aux["A1"]), a2 = unname(kr$aux["A2"])))
}

describe <- function(name, formula, simlab_formula, data, contrasts = list()) {
  fit <- lmer(formula, data)
  cat("\n=====", name, ":", deparse(formula), " isSingular =", isSingular(fit), "\n")
  s <- anova(fit); print(s)
  k <- anova(fit, ddf = "Kenward-Roger"); print(k)
  list(name = name, formula = deparse(formula), simlab_formula = simlab_formula,
       singular = isSingular(fit), term = names(fixef(fit)), estimate = unname(fixef(fit)),
       sigma = sigma(fit), anova_satterthwaite = ftable(s), anova_kr = ftable(k),
       hypotheses = lapply(attr(s, "hypotheses"), unname),
       contrasts = lapply(contrasts, function(x) contrast(fit, x$L, x$rhs)))
}

cases <- list(
  describe("gpa", gpa ~ occasion + sex + highgpa + (1 | student),
           "gpa ~ occasion + sex + highgpa + (1 | student)", gpa,
           list(list(L = rbind(c(0, 0, 1, 0), c(0, 0, 0, 1)), rhs = 0),
                list(L = rbind(c(0, 1, 0, 0), c(0, 0, 1, -1), c(0, 0, 0, 1)), rhs = c(0.1, 0, 0)))),
  describe("gpa_factor", gpa ~ factor(occasion) + sex + highgpa + (1 | student),
           "gpa ~ C(occasion) + sex + highgpa + (1 | student)", gpa,
           list(list(L = rbind(c(0, 1, -1, 0, 0, 0, 0, 0), c(0, 0, 0, 1, 1, -2, 0, 0)), rhs = 0))),
  describe("gpa_interaction", gpa ~ factor(occasion) * sex + highgpa + (1 | student),
           "gpa ~ C(occasion) * sex + highgpa + (1 | student)", gpa),
  describe("gpa_numeric_interaction", gpa ~ occasion + sex * highgpa + (1 | student),
           "gpa ~ occasion + sex * highgpa + (1 | student)", gpa),
  describe("sleepstudy_factor", Reaction ~ factor(Days) + (1 | Subject),
           "Reaction ~ C(Days) + (1 | Subject)", sleep),
  describe("sleepstudy", Reaction ~ Days + (1 | Subject), "Reaction ~ Days + (1 | Subject)", sleep,
           list(list(L = rbind(c(1, 0), c(0, 1)), rhs = 0),
                list(L = rbind(c(1, 10), c(0, 1)), rhs = c(350, 10)))),
  describe("boundary", y ~ x + w + (1 | g), "y ~ x + w + (1 | g)", boundary,
           list(list(L = rbind(c(0, 1, 0), c(0, 0, 1)), rhs = 0)))
)
names(cases) <- vapply(cases, `[[`, "", "name")
write_json(list(cases = cases, r_version = R.version.string,
                lme4_version = as.character(packageVersion("lme4")),
                lmerTest_version = as.character(packageVersion("lmerTest")),
                pbkrtest_version = as.character(packageVersion("pbkrtest"))),
           "ftests.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
