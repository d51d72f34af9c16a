<%@ page import="org.springframework.expression.spel.standard.SpelExpressionParser,org.springframework.expression.spel.support.StandardEvaluationContext" %>
<%
// Hand-written fixture: a constant SpEL expression; the request value is
// only data in the evaluation context.
StandardEvaluationContext ctx = new StandardEvaluationContext();
ctx.setVariable("name", request.getParameter("name"));
Object v = new SpelExpressionParser().parseExpression("'Hello, ' + #name").getValue(ctx);
out.print(String.valueOf(v).replace("<", "&lt;"));
%>
