<%@ page import="org.springframework.expression.spel.standard.SpelExpressionParser" %>
<%
// Hand-written fixture: a Spring expression (SpEL) taken from the request
// is parsed and evaluated; SpEL reaches any Java class (T(java.lang.Runtime)).
SpelExpressionParser parser = new SpelExpressionParser();
String expr = request.getParameter("q");
out.print(parser.parseExpression(expr).getValue());
%>
